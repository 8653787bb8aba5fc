"""Fuzzing ``read_bytes`` on every format: a SourceDocument or a DocumentError, nothing else, fast and small.

Structured generators (PDFs from a minimal writer with random content, DOCX zips
with random XML, HTML and Markdown with random tags, entities and encodings,
text in random encodings with NULs) plus mutations of valid samples (byte flips,
truncation, splices). Each input must finish within ``PARTNERSHIP_FUZZ_SECONDS``
(default 2 s of CPU time) with a Python heap peak (tracemalloc) under 64 MB.

The CI run is seeded (``derandomize``) and bounded; a long, random run:

    PARTNERSHIP_FUZZ_EXAMPLES=5000 .venv/bin/pytest -q tests/classifier/test_documents_fuzz.py
"""

from __future__ import annotations

import io
import os
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from classifier.documents import MAX_CHARS, DocumentError, SourceDocument, read_bytes
from tests.api.files import docx_with_text, pdf_with_text

EXAMPLES = int(os.environ.get("PARTNERSHIP_FUZZ_EXAMPLES", "40"))
SECONDS = float(os.environ.get("PARTNERSHIP_FUZZ_SECONDS", "2"))
PEAK_BYTES = 64 * 1024 * 1024
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=EXAMPLES <= 200,  # the CI run is the same every time; a long run explores
    deadline=None,  # timed by bounded() instead, which also reports memory
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
TEXT = "The city of Velmora pays for 300 connected street lamps; Lumatek GmbH supplies them under contract."

pytestmark = pytest.mark.filterwarnings("ignore")  # parsers warn on garbage; only exceptions matter here


def bounded(call: Callable[[], Any], what: str) -> Any:
    """Run ``call`` twice: timed (must end within SECONDS), then traced (Python heap peak under PEAK_BYTES).

    The time is this thread's CPU time, so a machine shared with other jobs does not fail the bound (wall time
    did, at load average 12); tracing slows allocation-heavy parsers several times over, so it is separate.
    """
    started = time.thread_time()
    result = call()
    elapsed = time.thread_time() - started
    assert elapsed < SECONDS, f"{what}: took {elapsed:.2f} s (bound {SECONDS} s)"
    tracemalloc.start()
    try:
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"{what}: heap peak {peak / 1e6:.1f} MB (bound {PEAK_BYTES / 1e6:.0f} MB)"
    return result


def check_read(data: bytes, name: str) -> SourceDocument | DocumentError:
    """The property: a non-empty, bounded SourceDocument or a DocumentError with a message; nothing else."""

    def call() -> SourceDocument | DocumentError:
        try:
            return read_bytes(data, name)
        except DocumentError as exc:
            return exc

    result = bounded(call, f"{name} ({len(data)} bytes)")
    if isinstance(result, DocumentError):
        assert str(result).strip(), "a DocumentError must say why"
    else:
        assert isinstance(result, SourceDocument)
        assert result.text.strip() and len(result.text) <= MAX_CHARS
        assert "\x00" not in result.text
    return result


# --- generators -------------------------------------------------------------------------------------------------

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1", "shift_jis", "koi8-r")
words = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40
) | st.sampled_from(["Velmora", "Lumatek", "&amp;", "&#0;", "&#x110000;", "&bogus;", "\x00", "\r\n", "\u2028", " "])


def encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


@st.composite
def repeated(draw) -> str:
    """A long run of one short token: what slow (quadratic) regexes and recursive parsers trip on."""
    token = draw(st.sampled_from(["[", "](", "![", "```", "`", "*", "_", "#", "<", "<b>", "<!--", "&", "\n", " \n"]))
    return token * draw(st.integers(1_000, 20_000))


@st.composite
def markdown(draw) -> str:
    pieces = st.sampled_from(["```", "`", "#", "## ", "> ", "- ", "1. ", "[", "]", "(", ")", "![", "**", "__", "\n"])
    return "".join(draw(st.lists(pieces | words, max_size=80)))


TAGS = ["p", "div", "script", "style", "svg", "head", "title", "table", "td", "br", "nav", "footer", "x:y", "!DOCTYPE"]


@st.composite
def html(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 60))):
        kind = draw(st.integers(0, 4))
        tag = draw(st.sampled_from(TAGS))
        if kind == 0:
            attribute = draw(st.sampled_from(["", " a=1", ' a="', " charset=utf-16", "/"]))
            parts.append(f"<{tag}{attribute}>")
        elif kind == 1:
            parts.append(f"</{tag}>")
        elif kind == 2:
            parts.append(draw(st.sampled_from(["<!--", "-->", "<![CDATA[", "]]>", "<?xml ?>", "&#x0;", "&#99999999;"])))
        else:
            parts.append(draw(words))
    return "".join(parts)


PDF_OPERATORS = ["BT", "ET", "Tf", "Td", "Tj", "TJ", "'", '"', "Tm", "cm", "q", "Q", "Do", "BI", "ID", "EI", "re"]


@st.composite
def pdf(draw) -> bytes:
    """A PDF from the minimal writer, its content stream or objects replaced by random tokens, or a valid one."""
    sentence = draw(words.filter(lambda w: w.isprintable() and w.encode("latin-1", "ignore").decode("latin-1") == w))
    data = pdf_with_text(f"{sentence or 'x'}. {TEXT}")
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return data
    if choice == 1:  # random content stream operators and operands
        ops = draw(
            st.lists(
                st.sampled_from(PDF_OPERATORS)
                | st.sampled_from(["(x)", "[(a) 5 (b)]", "/F1", "12", "-1e99", "<>", "<<"]),
                max_size=60,
            )
        )
        stream = " ".join(ops).encode()
        start = data.index(b"stream\n") + 7
        end = data.index(b"\nendstream")
        return data[:start] + stream + data[end:]
    if choice == 2:  # random dictionary tokens in place of an object body
        token = draw(
            st.sampled_from(
                [
                    b"<< /Type /Pages /Kids [2 0 R] /Count 99999999 >>",
                    b"<< /Length -5 >>",
                    b"[[[[[[",
                    b"<< /Root 1 0 R",
                    b"null",
                    b"9999999999 0 R",
                ]
            )
        )
        at = draw(st.integers(0, len(data)))
        return data[:at] + token + data[at:]
    return b"%PDF-1.7\n" + draw(st.binary(max_size=2000))


@st.composite
def docx(draw) -> bytes:
    """A DOCX zip whose document.xml (or another part) is random XML, random bytes or a real document."""
    valid = docx_with_text(TEXT)
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return valid
    source = zipfile.ZipFile(io.BytesIO(valid))
    out = io.BytesIO()
    target = draw(
        st.sampled_from(["word/document.xml", "[Content_Types].xml", "word/_rels/document.xml.rels", "_rels/.rels"])
    )
    if choice == 1:
        tags = st.sampled_from(
            [
                "<w:p>",
                "</w:p>",
                "<w:r>",
                "</w:r>",
                "<w:t>",
                "</w:t>",
                "<w:tbl>",
                "<w:tr>",
                "<w:tc>",
                "<w:body>",
                "</w:body>",
                "<w:tab/>",
                '<w:br w:type="x"/>',
                '<!DOCTYPE x [<!ENTITY a "aaaa">]>',
                "&a;",
                "&amp;",
            ]
        )
        ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
        body = "".join(draw(st.lists(tags | words, max_size=60)))
        replacement = f'<?xml version="1.0"?><w:document {ns}><w:body>{body}</w:body></w:document>'.encode()
    elif choice == 2:
        replacement = draw(st.binary(max_size=500))
    else:
        replacement = None  # the part is dropped
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            if info.filename == target:
                if replacement is not None:
                    archive.writestr(info.filename, replacement)
            else:
                archive.writestr(info, source.read(info))
    return out.getvalue()


@st.composite
def mutated(draw, sample: bytes) -> bytes:
    """A valid sample with bytes flipped, a truncation or a splice of random bytes."""
    data = bytearray(sample)
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(max_size=64))
    return bytes(data)


SAMPLES = {
    ".pdf": pdf_with_text(TEXT),
    ".docx": docx_with_text(TEXT),
    ".html": f"<html><body><p>{TEXT}</p></body></html>".encode(),
    ".md": f"# Lamps\n\n**{TEXT}** [more](http://example.org)".encode(),
    ".txt": TEXT.encode(),
}


# --- properties -------------------------------------------------------------------------------------------------


@FUZZ
@given(text=st.lists(words, max_size=50).map("".join), encoding=st.sampled_from(ENCODINGS))
@example(text="A", encoding="utf-16").via("odd-length UTF-16 after a BOM")
def test_text_in_any_encoding(text, encoding):
    data = encoded(text, encoding)
    check_read(data, "a.txt")
    check_read(b"\xff\xfe" + data[:-1] if data else b"\xff\xfeA", "b.txt")  # a BOM with a broken body


@FUZZ
@given(text=markdown() | repeated(), encoding=st.sampled_from(ENCODINGS))
@example(text="[" * 60_000, encoding="utf-8").via("unclosed link brackets: quadratic regex")
@example(text="![" * 30_000, encoding="utf-8").via("unclosed image brackets: quadratic regex")
def test_markdown(text, encoding):
    check_read(encoded(text, encoding), "a.md")


@FUZZ
@given(text=html() | repeated(), encoding=st.sampled_from(ENCODINGS))
@example(text="<div>" * 20_000, encoding="utf-8").via("deep nesting")
def test_html(text, encoding):
    check_read(encoded(text, encoding), "a.html")


@FUZZ
@given(data=pdf())
def test_pdf(data):
    check_read(data, "a.pdf")


@FUZZ
@given(data=docx())
def test_docx(data):
    check_read(data, "a.docx")


@FUZZ
@given(data=st.sampled_from(sorted(SAMPLES)).flatmap(lambda s: st.tuples(st.just(s), mutated(SAMPLES[s]))))
def test_mutated_valid_samples(data):
    suffix, body = data
    check_read(body, f"a{suffix}")


@FUZZ
@given(
    data=st.binary(max_size=4096), suffix=st.sampled_from(sorted(SAMPLES) + [".htm", ".markdown", ".text", ".exe", ""])
)
def test_random_bytes_under_any_name(data, suffix):
    check_read(data, f"a{suffix}")


def test_the_valid_samples_read():
    """The generators' starting points are readable, so the fuzzing above does reach the parsers' insides."""
    for suffix, data in SAMPLES.items():
        result = check_read(data, f"a{suffix}")
        assert isinstance(result, SourceDocument) and "Lumatek" in result.text, suffix
