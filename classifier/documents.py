"""Documents to clean text: txt, md, html, pdf and docx, with clear errors for anything unreadable.

Every reader raises :class:`DocumentError` with a message a user can act on
("encrypted PDF", "not a DOCX file") instead of a library's stack trace, so a
batch can report the file and go on with the others.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "MAX_BYTES",
    "SUPPORTED_SUFFIXES",
    "DocumentError",
    "SourceDocument",
    "clean_text",
    "read_bytes",
    "read_path",
]

MAX_BYTES = 20 * 1024 * 1024
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_CHARS = 1_000_000
SUPPORTED_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")


class DocumentError(ValueError):
    """A document that cannot be turned into text; the message says why."""


@dataclass(frozen=True)
class SourceDocument:
    """Text extracted from one input, with where it came from and any metadata given with it (city, country)."""

    id: str
    text: str
    source: str
    format: str
    metadata: dict[str, str] = field(default_factory=dict, compare=False)


_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b]+")
_BLANKS = re.compile(r"\n\s*\n\s*(\n\s*)+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Normalize whitespace and drop control characters, keeping paragraph breaks."""
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")  # an odd byte count must not escape as UnicodeDecodeError
    if b"\x00" in data[:4096]:
        raise DocumentError("binary content, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


# Link text may not contain brackets and a target not parentheses or a line break: every scan then stops at the
# next bracket, so a run of "[" or "[a](" is linear (the earlier [^\]]* / [^)]* took 15 s for 60 KB of "[").
_IMAGE = re.compile(r"!\[([^\[\]]*)\]\([^()\n]*\)")
_LINK = re.compile(r"\[([^\[\]]*)\]\([^()\n]*\)")


def _markdown(data: bytes) -> str:
    text = _decode(data)
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = re.sub(r"^\s{0,3}(#{1,6}|>|[-*+]\s|\d+\.\s)\s*", "", text, flags=re.MULTILINE)
    return re.sub(r"(\*\*|__|\*|_|`)", "", text)


def _html(data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(data), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "nav", "footer", "head"]):
        tag.decompose()
    return soup.get_text("\n")


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError  # PyPdfError: e.g. LimitReachedError on reference loops

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # we report our own clear error instead

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise DocumentError("not a PDF file")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError("encrypted PDF: remove the password and submit it again")
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except (
        PdfReadError,
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        RecursionError,
    ) as exc:
        raise DocumentError(f"corrupt PDF: {exc}") from None
    except Exception as exc:  # pypdf over hostile bytes raises many more kinds (zlib, struct, ...): all are "corrupt"
        raise DocumentError(f"corrupt PDF: {type(exc).__name__}: {exc}") from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise DocumentError("PDF has no text layer (scanned image?); OCR is not supported")
    return text


def _docx(data: bytes) -> str:
    from docx import Document

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DocumentError("not a DOCX file (not a zip archive)") from None
    with archive:
        if "word/document.xml" not in archive.namelist():
            raise DocumentError("not a DOCX file (no word/document.xml)")
        if sum(info.file_size for info in archive.infolist()) > MAX_DOCX_UNCOMPRESSED:
            raise DocumentError("DOCX expands to more than 200 MB: refused as a possible zip bomb")
    try:
        document = Document(io.BytesIO(data))
        parts = [p.text for p in document.paragraphs]  # read lazily: malformed XML can fail here too
        for table in document.tables:
            for row in table.rows:
                parts.append(" | ".join(cell.text for cell in row.cells))
    except Exception as exc:  # python-docx raises many kinds on malformed XML
        raise DocumentError(f"corrupt DOCX: {exc}") from None
    return "\n".join(parts)


_READERS = {
    ".txt": _decode,
    ".text": _decode,
    ".md": _markdown,
    ".markdown": _markdown,
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
}


def read_bytes(
    data: bytes,
    name: str,
    *,
    doc_id: str | None = None,
    max_bytes: int = MAX_BYTES,
    metadata: dict[str, str] | None = None,
) -> SourceDocument:
    """Extract clean text from the bytes of a file called ``name`` (its suffix picks the reader)."""
    suffix = Path(name).suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise DocumentError(f"unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    if len(data) > max_bytes:
        raise DocumentError(f"file is {len(data) / 1e6:.1f} MB, above the {max_bytes / 1e6:.0f} MB limit")
    if not data.strip():
        raise DocumentError("empty file")
    text = clean_text(reader(data))
    if not text:
        raise DocumentError("no text found in the document")
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    return SourceDocument(
        id=doc_id or Path(name).stem, text=text, source=name, format=suffix.lstrip("."), metadata=dict(metadata or {})
    )


def read_path(
    path: Path, *, doc_id: str | None = None, max_bytes: int = MAX_BYTES, metadata: dict[str, str] | None = None
) -> SourceDocument:
    """Read a file from disk; a missing or unreadable file is a :class:`DocumentError` too."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(f"file is {size / 1e6:.1f} MB, above the {max_bytes / 1e6:.0f} MB limit")
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror}") from None
    return read_bytes(data, str(path), doc_id=doc_id, max_bytes=max_bytes, metadata=metadata)
