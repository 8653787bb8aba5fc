"""Fuzzing ``api.inputs``: tables (CSV, JSONL), ZIPs and folders give documents or errors, lose nothing, and end.

Every item of the stream is a SourceDocument or an InputError (never an
exception that stops the stream), each table line or row and each ZIP entry is
accounted for, unsafe ZIP entries (``..``, absolute paths, symbolic links, nested
ZIPs) are refused, and each input finishes within the same CPU-time and heap
bounds as the document fuzzing (``PARTNERSHIP_FUZZ_EXAMPLES`` for a long run).
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from api.inputs import InputError, iter_documents, iter_table, iter_zip
from classifier.documents import SourceDocument, clean_text
from tests.api.files import docx_with_text, pdf_with_text
from tests.classifier.test_documents_fuzz import FUZZ, TEXT, bounded, mutated, words

ITEM = (SourceDocument, InputError)


def stream(call, what: str) -> list:
    items = bounded(lambda: list(call()), what)
    assert all(isinstance(i, ITEM) for i in items), [type(i) for i in items]
    for item in items:
        if isinstance(item, InputError):
            assert item.reason.strip()
        else:
            assert item.text.strip()
    return items


texts = st.lists(words, max_size=12).map("".join) | st.sampled_from(["", " ", "\x00", TEXT, "a\u2028b", "x" * 70_000])
values = st.none() | st.integers() | st.booleans() | texts | st.lists(st.integers(), max_size=3)
rows = st.fixed_dictionaries(
    {"text": texts}, optional={"id": values, "city": values, "country": values, "path": values, "extra": values}
)


# --- JSONL ------------------------------------------------------------------------------------------------------


@st.composite
def jsonl_lines(draw) -> list[str]:
    kind = st.sampled_from(["row", "row", "row", "broken", "array", "deep", "blank", "number"])
    lines = []
    for choice in draw(st.lists(kind, max_size=25)):
        if choice == "row":
            lines.append(json.dumps(draw(rows), ensure_ascii=draw(st.booleans())))
        elif choice == "broken":
            good = json.dumps(draw(rows))
            lines.append(good[: draw(st.integers(0, max(0, len(good) - 1)))])
        elif choice == "array":
            lines.append(json.dumps([draw(values)]))
        elif choice == "deep":
            depth = draw(st.integers(1, 200_000))
            lines.append("[" * depth + "]" * draw(st.integers(0, depth)))
        elif choice == "number":
            lines.append("1" * draw(st.integers(1, 10_000)))
        else:
            lines.append(draw(st.sampled_from(["", " ", "\t"])))
    return lines


@FUZZ
@given(lines=jsonl_lines(), newline=st.sampled_from(["\n", "\r\n"]), encoding=st.sampled_from(["utf-8", "utf-8-sig"]))
@example(lines=['{"text": "one\u2028two"}'], newline="\n", encoding="utf-8").via("a raw U+2028 inside a JSON string")
@example(lines=["[" * 100_000], newline="\n", encoding="utf-8").via("deep nesting: RecursionError")
def test_jsonl_every_line_is_a_document_or_an_error(lines, newline, encoding):
    data = newline.join(lines).encode(encoding)
    items = stream(lambda: iter_table(data, "t.jsonl"), f"jsonl of {len(data)} bytes")
    assert len(items) == sum(1 for line in lines if line.strip())  # one item per non-blank line: nothing lost
    for line, item in zip([ln for ln in lines if ln.strip()], items, strict=True):
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            assert isinstance(item, InputError)
            continue
        if isinstance(row, dict) and isinstance(row.get("text"), str) and clean_text(row["text"]):
            assert isinstance(item, SourceDocument) and item.text == clean_text(row["text"])


# --- CSV --------------------------------------------------------------------------------------------------------


@FUZZ
@given(
    table=st.lists(st.tuples(texts, st.sampled_from(["", "Velmora", "Zürich", "a,b", '"q"'])), max_size=20),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_csv_rows_round_trip_or_are_reported(table, quoting, encoding, newline):
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=quoting, lineterminator=newline)
    writer.writerow(["id", "text", "city"])
    for number, (text, city) in enumerate(table):
        writer.writerow([f"r{number}", text, city])
    data = out.getvalue().encode(encoding, errors="replace")
    items = stream(lambda: iter_table(data, "t.csv"), f"csv of {len(data)} bytes")
    if encoding in ("utf-8", "utf-8-sig"):  # the reader's encodings: every row comes back, in order
        assert len(items) == len(table)
        for (text, _), item in zip(table, items, strict=True):
            if clean_text(text):
                assert isinstance(item, SourceDocument) and item.text == clean_text(text)
            else:
                assert isinstance(item, InputError)


@FUZZ
@given(
    data=st.binary(max_size=3000)
    | st.lists(st.sampled_from([b'"', b",", b"\n", b"\r", b"\x00", b"text", b"a"]), max_size=300).map(b"".join)
)
@example(data=b'text\n"' + b"x" * 100).via("an unterminated quote")
@example(data=b"text\nab\x00cd\n").via("a NUL byte in a field")
def test_csv_of_garbage_never_raises(data):
    stream(lambda: iter_table(b"text,city\n" + data, "t.csv"), "garbage csv")
    stream(lambda: iter_table(data, "t.csv"), "garbage csv without a header")


# --- ZIP --------------------------------------------------------------------------------------------------------

NAMES = st.sampled_from(
    [
        "a.txt", "Velmora/b.md", "Velmora/sub/c.html", "../escape.txt", "a/../../escape.txt", "/etc/passwd.txt",
        "\\windows\\abs.txt", "C:/x.txt", ".", "..", "a/..", "noext", "x.exe", "inner.zip", "t.jsonl", "t.csv",
        "d.pdf", "e.docx", "dir/", "ü/ñ.txt", "a" * 300 + ".txt",
    ]
)  # fmt: skip
CONTENT = {
    ".txt": st.just(TEXT.encode()) | st.binary(max_size=200),
    ".md": st.just(f"# T\n{TEXT}".encode()),
    ".html": st.just(f"<p>{TEXT}</p>".encode()),
    ".jsonl": st.lists(rows.map(json.dumps), max_size=4).map(lambda ls: "\n".join(ls).encode())
    | st.binary(max_size=50),
    ".csv": st.just(f'text,city\n"{TEXT}",Velmora\n'.encode()) | st.binary(max_size=50),
    ".pdf": st.just(pdf_with_text(TEXT)) | mutated(pdf_with_text(TEXT)),
    ".docx": st.just(docx_with_text(TEXT)),
    ".zip": st.just(b"PK\x05\x06" + b"\0" * 18),
}


@st.composite
def zip_archive(draw) -> tuple[bytes, list[tuple[str, str]]]:
    """A ZIP of random entries; returns its bytes and (name, kind) per entry: kind file, symlink, dir."""
    out = io.BytesIO()
    entries = []
    with zipfile.ZipFile(out, "w") as archive:
        for name in draw(st.lists(NAMES, max_size=10, unique=True)):
            info = zipfile.ZipInfo(name)
            info.compress_type = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
            kind = "dir" if name.endswith("/") else draw(st.sampled_from(["file", "file", "file", "symlink"]))
            if kind == "symlink":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                body = b"/etc/passwd"
            else:
                body = draw(CONTENT.get(Path(name).suffix.lower(), st.binary(max_size=40))) if kind == "file" else b""
            archive.writestr(info, body)
            entries.append((name, kind))
    return out.getvalue(), entries


def _flag_encrypted(data: bytes) -> bytes:
    """Set the 'encrypted' bit on every entry (local and central headers): reading then needs a password."""
    buffer = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = buffer.find(signature)
        while at != -1:
            buffer[at + offset] |= 1
            at = buffer.find(signature, at + 4)
    return bytes(buffer)


@FUZZ
@given(archive=zip_archive(), encrypted=st.booleans())
def test_zip_entries_are_each_a_document_or_a_refusal(archive, encrypted):
    data, entries = archive
    data = _flag_encrypted(data) if encrypted else data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.zip"
        path.write_bytes(data)
        items = stream(lambda: iter_zip(path), f"zip of {len(entries)} entries")
    by_source: dict[str, list] = {}
    for item in items:
        entry = item.source.split("!", 1)[1]
        if entry.rsplit(":", 1)[0].lower().endswith((".jsonl", ".csv")):  # a table row: "t.csv:2"
            entry = entry.rsplit(":", 1)[0]
        by_source.setdefault(entry, []).append(item)
    for name, kind in entries:
        found = by_source.get(name, [])
        if kind == "dir":
            assert not found
            continue
        suffix = Path(name).suffix.lower()
        if suffix not in (".jsonl", ".csv") or kind == "symlink":
            assert len(found) == 1, (name, found)  # every entry is accounted for, exactly once
        unsafe = name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/")
        if unsafe or kind == "symlink" or suffix == ".zip":
            assert found and all(isinstance(i, InputError) for i in found), (name, found)
    assert not any(isinstance(i, SourceDocument) and ".." in i.id.split("/") for i in items)


def _claimed_compressed_size(size: int) -> bytes:
    """A tiny ZIP whose one entry's headers claim ``size`` compressed bytes (zipfile's read buffer size)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", TEXT)
    data = bytearray(out.getvalue())
    for signature, offset in ((b"PK\x03\x04", 18), (b"PK\x01\x02", 20)):
        at = data.find(signature) + offset
        data[at : at + 4] = size.to_bytes(4, "little")
    return bytes(data)


@FUZZ
@example(data=_claimed_compressed_size(1_500_000_000)).via("a 200-byte ZIP that made zipfile allocate 1.5 GB")
@given(data=st.sampled_from(["plain", "tables"]).flatmap(lambda _: zip_archive()).flatmap(lambda a: mutated(a[0])))
def test_corrupt_zips_never_raise(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bad.zip"
        path.write_bytes(data)
        stream(lambda: iter_zip(path), "mutated zip")
        stream(lambda: iter_documents([folder]), "folder with a mutated zip")


# --- folders ----------------------------------------------------------------------------------------------------


@FUZZ
@given(
    files=st.lists(
        st.tuples(
            NAMES.filter(
                lambda n: ".." not in n and not n.startswith(("/", "\\")) and n not in (".", "dir/") and len(n) < 200
            ),
            st.binary(max_size=100),
        ),
        max_size=8,
    ),
    links=st.lists(st.sampled_from(["to-outside.txt", "loop", "dangling.md", "dir-link"]), max_size=3, unique=True),
)
def test_folders_with_links_and_odd_files(files, links):
    with tempfile.TemporaryDirectory() as outside, tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        secret = Path(outside) / "secret.txt"
        secret.write_text("secret text that must not be read through a link")
        for name, body in files:
            target = root / name.replace("\\", "_").replace(":", "_")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
        for link in links:
            source = {
                "to-outside.txt": secret,
                "loop": root / "loop",
                "dangling.md": root / "missing",
                "dir-link": root,
            }
            os.symlink(source[link], root / link)
        items = stream(lambda: iter_documents([folder]), "folder")
    assert not any(isinstance(i, SourceDocument) and "secret" in i.text for i in items)
