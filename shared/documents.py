"""The text of an uploaded document (PDF, Markdown, HTML or plain text), page by page: what the
gateway stages for the dialog's document index, and what the retrieval evaluation reads.

Pages are kept apart by form feeds ("\\f", as pdftotext writes them), so a passage found later
can name the page it came from. Only PDFs have pages; the other formats are one page.
"""

import io
import logging
import re
from html.parser import HTMLParser
from typing import Literal

DocumentKind = Literal["pdf", "markdown", "html", "text"]
PAGE_BREAK = "\f"
MAX_PAGES = 5_000

_KINDS: dict[str, DocumentKind] = {
    "application/pdf": "pdf",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
}
_SUFFIXES: dict[str, DocumentKind] = {
    ".pdf": "pdf",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    ".text": "text",
}
_SKIPPED_TAGS = {"script", "style", "head", "template", "noscript", "svg"}
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "section"}
_BLANK_LINES = re.compile(r"\n\s*\n\s*(?:\n\s*)+")

logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns about every odd object it skips


class DocumentRefused(ValueError):
    """The upload is no document this service reads (`status`: the HTTP status it earns)."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def kind_of(name: str, content_type: str) -> DocumentKind:
    """The document's format, from its MIME type or else its name's suffix (415 if neither
    names one this service reads)."""
    mime = content_type.split(";")[0].strip().lower()
    if mime in _KINDS:
        return _KINDS[mime]
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise DocumentRefused(
        f"{name!r} is no PDF, Markdown, HTML or text document (send it as application/pdf, "
        "text/markdown, text/html or text/plain, or name it .pdf, .md, .html or .txt)",
        status=415,
    )


def extract(data: bytes, kind: DocumentKind) -> str:
    """The document's text, its pages joined by PAGE_BREAK; DocumentRefused when it cannot be
    read or holds no text."""
    if kind == "pdf":
        text = _pdf_text(data)
    else:
        try:
            decoded = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise DocumentRefused(f"the document is not UTF-8 text (byte {err.start})") from err
        if "\x00" in decoded:  # no text format has it; Postgres cannot store it
            raise DocumentRefused("the document is not text: it holds a NUL character")
        text = _html_text(decoded) if kind == "html" else decoded.replace(PAGE_BREAK, "\n")
    text = text.replace("\x00", "")  # a PDF's odd font can give it: a character Postgres refuses
    if not text.replace(PAGE_BREAK, "").strip():
        raise DocumentRefused("the document holds no text")
    return text


def pages(text: str) -> list[str]:
    """The pages of an extracted text (page n is pages(text)[n - 1])."""
    return text.split(PAGE_BREAK)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader  # imported on first use: only uploads need it
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentRefused("the PDF is encrypted")
        if len(reader.pages) > MAX_PAGES:
            raise DocumentRefused(f"the PDF has over {MAX_PAGES} pages", status=413)
        texts = [(page.extract_text() or "").replace(PAGE_BREAK, "\n") for page in reader.pages]
    except DocumentRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as err:
        raise DocumentRefused(f"the PDF could not be read: {err}") from err
    return PAGE_BREAK.join(texts)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.out.append("\n\n" if tag != "br" else "\n")
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6") and not self._skipping:
            self.out.append("#" * int(tag[1]) + " ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS and self._skipping:
            self._skipping -= 1
        elif tag in _BLOCK_TAGS:
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.out.append(data)


def _html_text(html: str) -> str:
    """The visible text of an HTML page, paragraphs kept apart and headings marked as in
    Markdown (so the splitter sees the same sections either way)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return _BLANK_LINES.sub("\n\n", "".join(parser.out)).strip()
