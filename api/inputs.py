"""What users hand us, as a stream of documents or errors: files, folders, JSONL/CSV tables, stdin.

Reading never stops at a bad input: each unreadable file, line or row becomes
an :class:`InputError` in the stream, so the caller reports it and goes on.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from classifier.documents import SUPPORTED_SUFFIXES, DocumentError, SourceDocument, clean_text, read_path

__all__ = ["InputError", "iter_documents", "iter_table"]

csv.field_size_limit(50 * 1024 * 1024)


@dataclass(frozen=True)
class InputError:
    """An input that could not be read, and why."""

    id: str
    source: str
    reason: str


def _record(row: dict, source: str, number: int, base: Path) -> SourceDocument | InputError:
    doc_id = str(row.get("id") or f"{Path(source).stem}-{number}")
    text, path = row.get("text"), row.get("path")
    try:
        if text is not None and str(text).strip():
            return SourceDocument(doc_id, clean_text(str(text)), f"{source}:{number}", "text")
        if path:
            doc = read_path((base / str(path)) if not Path(str(path)).is_absolute() else Path(str(path)), doc_id=doc_id)
            return doc
        return InputError(doc_id, f"{source}:{number}", "no text (and no path)")
    except DocumentError as exc:
        return InputError(doc_id, f"{source}:{number}", str(exc))


def iter_table(path: Path) -> Iterator[SourceDocument | InputError]:
    """Rows of a ``.jsonl`` or ``.csv`` file with ``id`` and ``text`` (or ``path``) columns."""
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield InputError(path.stem, source, f"cannot read: {exc.strerror}")
        return
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        content = data.decode("cp1252", errors="replace")
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(content.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                yield InputError(f"{path.stem}-{number}", f"{source}:{number}", f"invalid JSON line: {exc}")
                continue
            yield _record(row, source, number, path.parent)
        return
    reader = csv.DictReader(io.StringIO(content, newline=""))
    if not reader.fieldnames or not ({"text", "path"} & {f.strip().lower() for f in reader.fieldnames}):
        yield InputError(path.stem, source, "CSV needs a header with a 'text' or 'path' column")
        return
    for number, row in enumerate(reader, 2):
        yield _record({(k or "").strip().lower(): v for k, v in row.items()}, source, number, path.parent)


def iter_documents(inputs: Iterable[str]) -> Iterator[SourceDocument | InputError]:
    """Every document named by ``inputs``: files, folders (recursive), .jsonl/.csv tables, or ``-`` for stdin."""
    for item in inputs:
        if item == "-":
            text = sys.stdin.read()
            yield (
                SourceDocument("stdin", clean_text(text), "stdin", "text")
                if text.strip()
                else InputError("stdin", "stdin", "empty input")
            )
            continue
        path = Path(item)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in (".jsonl", ".csv"):
                    yield from iter_table(child)
                elif child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield from _one_file(child, child.relative_to(path).with_suffix("").as_posix())
                else:
                    yield InputError(child.stem, str(child), f"unsupported file type {child.suffix or '(none)'}")
        elif path.suffix.lower() in (".jsonl", ".csv"):
            yield from iter_table(path)
        else:
            yield from _one_file(path, path.stem)


def _one_file(path: Path, doc_id: str) -> Iterator[SourceDocument | InputError]:
    try:
        yield read_path(path, doc_id=doc_id)
    except DocumentError as exc:
        yield InputError(doc_id, str(path), str(exc))
