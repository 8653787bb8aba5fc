import io
import zipfile

import pytest
from docx import Document

from classifier.documents import DocumentError, clean_text, read_bytes, read_path

TEXT = "The city of Velmora will pay for 300 connected street lamps; Lumatek supplies them."


def _docx_bytes(text: str) -> bytes:
    doc = Document()
    doc.add_paragraph(text)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _pdf_bytes(text: str) -> bytes:
    """A minimal one-page PDF with a text layer, written by hand (no PDF writer needed)."""
    stream = f"BT /F1 12 Tf 50 700 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.txt", TEXT.encode()),
        ("a.txt", b"\xef\xbb\xbf" + TEXT.encode()),
        ("a.txt", TEXT.encode("utf-16")),
        ("a.md", f"# Street lamps\n\n**{TEXT}** [more](http://example.org)".encode()),
        (
            "a.html",
            f"<html><head><title>x</title><script>var a=1</script></head><body><p>{TEXT}</p></body></html>".encode(),
        ),
        ("a.docx", _docx_bytes(TEXT)),
        ("a.pdf", _pdf_bytes(TEXT)),
    ],
)
def test_every_format_gives_the_text(name, data):
    doc = read_bytes(data, name)
    assert "Lumatek supplies them" in doc.text
    assert "var a" not in doc.text and "http" not in doc.text and "**" not in doc.text
    assert doc.format == name.rsplit(".", 1)[1]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.pdf", b"%PDF-1.4\n garbage garbage", "corrupt PDF"),
        ("a.pdf", b"hello", "not a PDF"),
        ("a.docx", b"PK not really a zip", "not a DOCX"),
        ("a.txt", b"   \n ", "empty file"),
        ("a.txt", b"\x00\x01\x02binary", "binary"),
        ("a.exe", b"MZ", "unsupported file type"),
    ],
)
def test_bad_input_gives_a_clear_error(name, data, message):
    with pytest.raises(DocumentError, match=message):
        read_bytes(data, name)


def test_size_limit_and_zip_bomb_are_refused():
    with pytest.raises(DocumentError, match="above the"):
        read_bytes(b"x" * 2000, "a.txt", max_bytes=1000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w/>" + b" " * (210 * 1024 * 1024))
    with pytest.raises(DocumentError, match="zip bomb"):
        read_bytes(buffer.getvalue(), "bomb.docx")


def test_missing_file_is_a_document_error(tmp_path):
    with pytest.raises(DocumentError, match="cannot read"):
        read_path(tmp_path / "nope.txt")


def test_clean_text_keeps_paragraphs_and_drops_control_characters():
    assert clean_text("a\x07b  c\r\n\r\n\r\n\r\nd") == "a b c\n\nd"
