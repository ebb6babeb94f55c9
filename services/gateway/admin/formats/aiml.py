"""AIML as people upload it: one document, or a zip of many files. Pure: bytes in, named texts
out, or UploadRefused saying which file, line and column is wrong.

A zip is read in memory under caps (entries, each file's size, the total size, and the
compression ratio, counted on the bytes actually inflated, not on what the headers claim), and
its names are only ever keys: nothing touches the filesystem. Each file is decoded as its XML
declaration (or byte order mark) says, and kept as UTF-8 text declaring UTF-8.
"""

import codecs
import io
import posixpath
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from shared.contracts.content import FILE_NAME_PATTERN, AimlFile

from ...edge.errors import GatewayError

MAX_ENTRIES = 1000
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 32 * 1024 * 1024
MAX_RATIO = 50  # text compresses ~10x; far more is a bomb
RATIO_FLOOR = 1024 * 1024  # tiny files may compress far; only big ones are judged by ratio
CHUNK = 64 * 1024
AIML_SUFFIXES = (".aiml", ".xml")
ZIP_TYPES = ("application/zip", "application/x-zip-compressed")
DEFAULT_NAME = "bot.aiml"
_NAME = re.compile(FILE_NAME_PATTERN)
_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_DECLARED = re.compile(r"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*["'])[^"']*(["'])""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass
class UploadRefused(GatewayError):
    """An upload was refused: `status` 413 (too big) or 422 (wrong), and every problem."""

    status: int
    problems: list[dict[str, Any]]

    def __str__(self) -> str:
        return summary(self.problems)


def summary(problems: list[dict[str, Any]]) -> str:
    """The first problem as one line: `file a.aiml, line 3, column 5: what is wrong`."""
    first = problems[0]
    where = ", ".join(f"{key} {first[key]}" for key in ("file", "line", "column") if key in first)
    return f"{where}: {first['message']}" if where else str(first["message"])


def is_zip(content_type: str) -> bool:
    """Whether a Content-Type names a zip archive."""
    return content_type.split(";")[0].strip().lower() in ZIP_TYPES


def read_aiml(body: bytes, content_type: str, *, name: str | None = None) -> list[AimlFile]:
    """The AIML files of an upload: a zip's .aiml/.xml files in name order, or one document
    named `name`."""
    if is_zip(content_type):
        return read_zip(body)
    name = name or DEFAULT_NAME
    _check_name(name)
    return [AimlFile(name=name, text=decode_xml(body, name=name))]


def read_zip(body: bytes) -> list[AimlFile]:
    """A zip's AIML files, in name order (a later file's category replaces an earlier one's)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
        entries = [entry for entry in archive.infolist() if _wanted(entry)]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as err:
        raise UploadRefused(422, [{"message": f"not a readable zip archive ({err})"}]) from None
    if len(entries) > MAX_ENTRIES:
        raise UploadRefused(413, [{"message": f"a zip may hold at most {MAX_ENTRIES} files"}])
    problems = [p for entry in entries for p in _entry_problems(entry)]
    names = [entry.filename for entry in entries]
    problems += [{"file": n, "message": "the zip holds this name twice"} for n in _twice(names)]
    if problems:
        raise UploadRefused(422, problems)
    if not entries:
        raise UploadRefused(422, [{"message": "the zip holds no .aiml or .xml file"}])
    files, total = [], 0
    for entry in sorted(entries, key=lambda e: e.filename):
        data = _inflate(archive, entry, room=MAX_TOTAL_BYTES - total)
        total += len(data)
        try:
            files.append(AimlFile(name=entry.filename, text=decode_xml(data, name=entry.filename)))
        except UploadRefused as err:
            problems += err.problems
    if problems:
        raise UploadRefused(422, problems)
    return files


def decode_xml(data: bytes, *, name: str) -> str:
    """The text of an XML file, decoded as its byte order mark or declaration says (UTF-8
    otherwise); a declared encoding becomes UTF-8, which the text is kept in."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    declared = _DECLARATION.match(data[:512])
    if encoding is None and declared:
        encoding = declared.group(1).decode("ascii")
    try:
        text = data.decode(encoding or "utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        message = f"not {encoding or 'UTF-8'} (byte {err.start}); declare the file's encoding"
        raise UploadRefused(
            422, [{"file": name, "line": line, "column": column, "message": message}]
        ) from None
    except (LookupError, UnicodeError):  # unknown, or not a text encoding (rot13, idna...)
        message = f"unusable encoding {encoding}"
        raise UploadRefused(
            422, [{"file": name, "line": 1, "column": 1, "message": message}]
        ) from None
    return _DECLARED.sub(r"\1UTF-8\2", text, count=1)


def write_zip(files: list[AimlFile]) -> bytes:
    """The files as a zip archive (what GET /aiml answers for several files)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.writestr(file.name, file.text.encode("utf-8"))
    return out.getvalue()


def _wanted(entry: zipfile.ZipInfo) -> bool:
    """Directories and what archivers add (macOS resource forks, dot files) are skipped."""
    base = posixpath.basename(entry.filename.rstrip("/"))
    return not (entry.is_dir() or entry.filename.startswith("__MACOSX/") or base.startswith("."))


def _entry_problems(entry: zipfile.ZipInfo) -> list[dict[str, Any]]:
    name = entry.filename
    try:
        _check_name(name)
    except UploadRefused as err:
        return err.problems
    if not name.lower().endswith(AIML_SUFFIXES):
        return [{"file": name, "message": "only .aiml and .xml files are AIML"}]
    if entry.flag_bits & 0x1:
        return [{"file": name, "message": "encrypted entries are not read"}]
    return []


def _check_name(name: str) -> None:
    """Names are keys, never paths: relative, no `..`, no backslashes, printable."""
    parts = name.split("/")
    if not _NAME.match(name) or any(part in ("", ".", "..") for part in parts):
        message = "not a usable file name (letters, digits, _ . - and / between folder names)"
        raise UploadRefused(422, [{"file": name[:200], "message": message}])


def _twice(names: list[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _inflate(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, *, room: int) -> bytes:
    """An entry's bytes, stopped as soon as they pass a cap (whatever its header claims)."""
    limit = min(MAX_FILE_BYTES, room)
    ratio_cap = max(RATIO_FLOOR, MAX_RATIO * max(entry.compress_size, 1))
    if entry.file_size > limit or entry.file_size > ratio_cap:
        raise _too_big(entry.filename, limit)
    out = bytearray()
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(CHUNK):
                out += chunk
                if len(out) > limit or len(out) > ratio_cap:
                    raise _too_big(entry.filename, limit)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, EOFError) as err:
        problem = {"file": entry.filename, "message": f"unreadable ({err})"}
        raise UploadRefused(422, [problem]) from None
    return bytes(out)


def _too_big(name: str, limit: int) -> UploadRefused:
    message = (
        f"inflates past the caps ({MAX_FILE_BYTES} bytes a file, {MAX_TOTAL_BYTES} in all,"
        f" {MAX_RATIO}x compression; {limit} bytes were left)"
    )
    return UploadRefused(413, [{"file": name, "message": message}])
