"""AIML uploads of many files (zip reading, decoding, caps), compiling them, and content diffs."""

import io
import zipfile

import pytest

from services.dialog.content.diff import changed_files, diff_parts, file_digests, text_forms
from services.dialog.engines.aiml import InvalidAiml, compile_files
from services.gateway.admin.formats import aiml as aiml_files
from services.gateway.admin.formats.aiml import (
    UploadRefused,
    decode_xml,
    read_aiml,
    read_zip,
    write_zip,
)
from shared.contracts.content import AimlFile, BotContent, ContentFile
from shared.contracts.knowledge import Faq, FaqGroup

HI = '<aiml version="1.0.1"><category><pattern>HI</pattern><template>hello</template></category></aiml>'
BYE = "<aiml><category><pattern>BYE</pattern><template>see you</template></category></aiml>"


def zipped(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_a_zip_gives_its_aiml_files_in_name_order_skipping_folders_and_junk() -> None:
    """Files keep their names (paths inside the zip); macOS forks and dot files are skipped."""
    body = zipped(
        {
            "set/b.aiml": BYE.encode(),
            "set/a.aiml": HI.encode(),
            "__MACOSX/set/._a.aiml": b"\x00junk",
            "set/.DS_Store": b"\x00",
        }
    )
    files = read_aiml(body, "application/zip")
    assert [f.name for f in files] == ["set/a.aiml", "set/b.aiml"]
    assert files[0].text == HI


def test_one_document_is_one_file_named_as_asked() -> None:
    """A plain upload is one file, bot.aiml unless named."""
    assert read_aiml(HI.encode(), "application/xml") == [AimlFile(name="bot.aiml", text=HI)]
    assert read_aiml(HI.encode(), "text/xml", name="x.aiml")[0].name == "x.aiml"
    with pytest.raises(UploadRefused):
        read_aiml(HI.encode(), "application/xml", name="../etc/passwd")


def test_the_declared_encoding_is_honoured_and_becomes_utf8() -> None:
    """ISO-8859-1 bytes decode as declared; the kept text declares UTF-8."""
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<aiml>caf\xe9</aiml>'.encode("latin-1")
    text = decode_xml(latin, name="a.aiml")
    assert "café" in text and 'encoding="UTF-8"' in text
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><aiml>é</aiml>'.encode("utf-16")
    assert "é" in decode_xml(utf16, name="b.aiml")


def test_undecodable_bytes_are_reported_with_file_line_and_column() -> None:
    """Bytes that are not the declared (or default UTF-8) encoding say where they are."""
    with pytest.raises(UploadRefused) as refused:
        decode_xml(b"<aiml>\n  ok \xff</aiml>", name="bad.aiml")
    problem = refused.value.problems[0]
    assert (problem["file"], problem["line"], problem["column"]) == ("bad.aiml", 2, 6)
    with pytest.raises(UploadRefused, match="unusable encoding"):
        decode_xml(b'<?xml version="1.0" encoding="klingon"?><aiml/>', name="k.aiml")


def test_unsafe_names_other_files_and_duplicates_are_refused_with_their_names() -> None:
    """Absolute paths, `..`, backslashes, non-AIML files and repeated names are 422s."""
    for name in ("/abs.aiml", "a/../b.aiml", "a\\b.aiml", "notes.txt"):
        with pytest.raises(UploadRefused) as refused:
            read_zip(zipped({name: HI.encode()}))
        assert refused.value.status == 422 and refused.value.problems[0]["file"] == name
    twice = io.BytesIO()
    with zipfile.ZipFile(twice, "w") as archive, pytest.warns(UserWarning):
        archive.writestr("a.aiml", HI)
        archive.writestr("a.aiml", BYE)
    with pytest.raises(UploadRefused, match="twice"):
        read_zip(twice.getvalue())
    with pytest.raises(UploadRefused, match="not a readable zip"):
        read_zip(b"PK\x03\x04 not really")
    with pytest.raises(UploadRefused, match="holds no"):
        read_zip(zipped({"folder/": b""}))


def test_zip_bombs_are_refused_by_the_bytes_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file inflating past the ratio, the per-file or the total cap is a 413, whatever its
    header claims; too many entries too."""
    bomb = zipped({"bomb.aiml": b"<aiml>" + b" " * (4 * 1024 * 1024) + b"</aiml>"})
    with pytest.raises(UploadRefused) as refused:
        read_zip(bomb)
    assert refused.value.status == 413 and refused.value.problems[0]["file"] == "bomb.aiml"
    monkeypatch.setattr(aiml_files, "MAX_TOTAL_BYTES", len(HI) * 2 + 1)
    with pytest.raises(UploadRefused) as refused:
        read_zip(zipped({f"{n}.aiml": HI.encode() for n in range(3)}, zipfile.ZIP_STORED))
    assert refused.value.status == 413 and refused.value.problems[0]["file"] == "2.aiml"
    monkeypatch.setattr(aiml_files, "MAX_ENTRIES", 2)
    with pytest.raises(UploadRefused) as refused:
        read_zip(zipped({f"{n}.aiml": HI.encode() for n in range(3)}))
    assert refused.value.status == 413


def test_lying_headers_do_not_get_past_the_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry whose header understates its size is stopped while it inflates."""
    monkeypatch.setattr(aiml_files, "MAX_FILE_BYTES", 1000)
    body = bytearray(zipped({"a.aiml": b"<aiml>" + b"x" * 5000 + b"</aiml>"}))
    archive = zipfile.ZipFile(io.BytesIO(bytes(body)))
    entry = archive.infolist()[0]
    for offset in (entry.header_offset + 22, body.rindex(b"PK\x01\x02") + 24):
        body[offset : offset + 4] = (100).to_bytes(4, "little")  # local and central sizes
    with pytest.raises(UploadRefused) as refused:
        read_zip(bytes(body))
    assert refused.value.status in (413, 422)


def test_write_zip_reads_back() -> None:
    """What GET /aiml sends for several files uploads again unchanged."""
    files = [AimlFile(name="a.aiml", text=HI), AimlFile(name="d/b.aiml", text=BYE)]
    assert read_zip(write_zip(files)) == files


def test_compile_files_merges_in_order_and_names_the_file_of_each_problem() -> None:
    """A later file's category replaces an earlier one's; problems carry their file."""
    again = HI.replace("hello", "hi again")
    compiled, counts = compile_files(
        [AimlFile(name="a.aiml", text=HI), AimlFile(name="b.aiml", text=again)]
    )
    assert counts == [1, 1] and len(compiled.categories) == 1
    assert "hi again" in str(next(iter(compiled.categories.values())))
    broken = "<aiml>\n<category><pattern>X</pattern></aiml>"
    with pytest.raises(InvalidAiml) as invalid:
        compile_files([AimlFile(name="ok.aiml", text=HI), AimlFile(name="bad.aiml", text=broken)])
    problem = invalid.value.problems[0]
    assert problem.file == "bad.aiml" and problem.line == 2


def test_diff_lists_only_changed_parts_with_unified_diffs() -> None:
    """Each changed file and part has a unified diff; unchanged parts are left out."""
    old = BotContent(
        version=1,
        aiml="",
        maps="",
        sets="",
        properties="name:Ada\n",
        aiml_files=[ContentFile(name="a.aiml", sha256="1", size=1)],
    )
    faq = Faq(groups=[FaqGroup(gid="1", questions=["Where?"], answer="Here")])
    new = old.model_copy(
        update={
            "version": 2,
            "properties": "name:Bob\n",
            "faq": faq,
            "aiml_files": [*old.aiml_files, ContentFile(name="b.aiml", sha256="2", size=1)],
        }
    )
    old_files, new_files = file_digests(old), file_digests(new)
    assert changed_files(old_files, new_files) == {"2"}
    texts = {"2": "<aiml/>\n"}
    parts = diff_parts(
        {**text_forms(old), **{p: texts.get(d, "") for p, d in old_files.items()}},
        {**text_forms(new), **{p: texts.get(d, "") for p, d in new_files.items()}},
    )
    assert [(p.part, p.change) for p in parts] == [
        ("aiml/b.aiml", "added"),
        ("properties", "changed"),
        ("faq", "added"),
    ]
    assert "-name:Ada\n+name:Bob\n" in parts[1].diff
    assert parts[0].diff.startswith("--- a/aiml/b.aiml\n+++ b/aiml/b.aiml\n")
    assert "answer: Here" in parts[2].diff
