"""What users hand us, as a stream of documents or errors: files, folders, ZIPs, JSONL/CSV tables, stdin.

Reading never stops at a bad input: each unreadable file, entry, line or row
becomes an :class:`InputError` in the stream, so the caller reports it and goes
on. Metadata travels with each document: ``city`` and ``country`` columns of a
table, or the first sub-folder of a folder or ZIP (``INPUT/<city>/file.pdf``).
The stream's order is deterministic, which bulk jobs rely on to resume.
"""

from __future__ import annotations

import csv
import io
import json
import stat
import sys
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from classifier.documents import MAX_BYTES, SUPPORTED_SUFFIXES, DocumentError, SourceDocument, clean_text, read_bytes

__all__ = ["TABLE_SUFFIXES", "InputError", "count_documents", "iter_documents", "iter_table", "iter_zip"]

csv.field_size_limit(50 * 1024 * 1024)
TABLE_SUFFIXES = (".jsonl", ".csv")
MAX_ZIP_ENTRIES = 100_000
META_FIELDS = ("city", "country")


@dataclass(frozen=True)
class InputError:
    """An input that could not be read, and why."""

    id: str
    source: str
    reason: str


def _meta(row: dict) -> dict[str, str]:
    return {k: str(row[k]).strip() for k in META_FIELDS if row.get(k) not in (None, "")}


def _record(row: dict, source: str, number: int, base: Path | None) -> SourceDocument | InputError:
    doc_id = str(row.get("id") or f"{PurePosixPath(source).stem}-{number}").strip()
    text, path = row.get("text"), row.get("path")
    where = f"{source}:{number}"
    try:
        cleaned = clean_text(str(text)) if text is not None else ""
        if cleaned:  # checked after cleaning: text of control characters only is no text (it was kept as "")
            return SourceDocument(doc_id, cleaned, where, "text", _meta(row))
        if path and base is None:
            return InputError(doc_id, where, "a 'path' column is not accepted here: give the document's text")
        if path and base is not None:
            target = Path(str(path))
            target = target if target.is_absolute() else base / target
            if target.stat().st_size > MAX_BYTES:  # refused before it is read into memory
                raise DocumentError(f"file is {target.stat().st_size / 1e6:.1f} MB, above the limit")
            data = target.read_bytes()
            return read_bytes(data, str(target), doc_id=doc_id, metadata=_meta(row))
        return InputError(doc_id, where, "no text (and no readable path)")
    except DocumentError as exc:
        return InputError(doc_id, where, str(exc))
    except OSError as exc:
        return InputError(doc_id, where, f"cannot read {path}: {exc.strerror}")
    except ValueError as exc:  # a path with a NUL byte
        return InputError(doc_id, where, f"cannot read {path!r}: {exc}")


def _decode_table(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def iter_table(data: bytes, source: str, base: Path | None = None) -> Iterator[SourceDocument | InputError]:
    """Rows of a ``.jsonl`` or ``.csv`` table with ``id`` and ``text`` (or ``path``), ``city``, ``country``."""
    content = _decode_table(data)
    if source.lower().endswith(".jsonl"):
        # split("\n"), not splitlines(): JSON strings may hold a raw U+2028, U+0085 or \x1c, which splitlines()
        # took for line ends, cutting one valid row into two invalid ones.
        for number, line in enumerate(content.split("\n"), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
            except RecursionError:
                yield InputError(
                    f"{PurePosixPath(source).stem}-{number}",
                    f"{source}:{number}",
                    "invalid JSON line: nested too deeply",
                )
                continue
            except ValueError as exc:
                yield InputError(
                    f"{PurePosixPath(source).stem}-{number}", f"{source}:{number}", f"invalid JSON line: {exc}"
                )
                continue
            yield _record(row, source, number, base)
        return
    reader = csv.DictReader(io.StringIO(content, newline=""))
    if not reader.fieldnames or not ({"text", "path"} & {(f or "").strip().lower() for f in reader.fieldnames}):
        yield InputError(PurePosixPath(source).stem, source, "CSV needs a header with a 'text' or 'path' column")
        return
    number = 1
    try:
        for number, row in enumerate(reader, 2):
            yield _record({(k or "").strip().lower(): v for k, v in row.items()}, source, number, base)
    except csv.Error as exc:  # e.g. a field over the size limit: the rest of the table is reported, not raised
        yield InputError(f"{PurePosixPath(source).stem}-{number + 1}", f"{source}:{number + 1}", f"invalid CSV: {exc}")


def _city_of(relative: PurePosixPath) -> dict[str, str]:
    return {"city": relative.parts[0]} if len(relative.parts) > 1 else {}


def iter_zip(path: Path, max_bytes: int = MAX_BYTES) -> Iterator[SourceDocument | InputError]:
    """Entries of a ZIP, read in memory (never extracted): unsafe or oversized entries are reported."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        yield InputError(path.stem, str(path), f"not a readable ZIP: {exc}")
        return
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_ZIP_ENTRIES:
            yield InputError(path.stem, str(path), f"ZIP has {len(infos)} entries, more than {MAX_ZIP_ENTRIES}")
            return
        for info in sorted(infos, key=lambda i: i.filename):
            name = PurePosixPath(info.filename.replace("\\", "/"))
            source = f"{path}!{info.filename}"
            doc_id = name.as_posix()[: len(name.as_posix()) - len(name.suffix)] or info.filename  # "." has no stem
            suffix = name.suffix.lower()
            if name.is_absolute() or ".." in name.parts:
                yield InputError(doc_id, source, "unsafe path in ZIP (absolute or '..'): refused")
            elif stat.S_ISLNK(info.external_attr >> 16):
                yield InputError(doc_id, source, "symbolic link in ZIP: refused")
            elif suffix == ".zip":
                yield InputError(doc_id, source, "nested ZIP: not supported, unpack it first")
            elif info.file_size > max_bytes:
                yield InputError(doc_id, source, f"entry expands to {info.file_size / 1e6:.1f} MB, above the limit")
            elif info.compress_size > max_bytes:  # zipfile would allocate a buffer of this size to read it
                yield InputError(doc_id, source, f"entry claims {info.compress_size / 1e6:.1f} MB compressed: refused")
            elif info.flag_bits & 0x1:
                yield InputError(doc_id, source, "encrypted ZIP entry: remove the password and submit it again")
            elif suffix in TABLE_SUFFIXES or suffix in SUPPORTED_SUFFIXES:
                try:
                    data = archive.read(info)
                except (
                    zipfile.BadZipFile,
                    OSError,
                    EOFError,
                    RuntimeError,
                    NotImplementedError,
                    ValueError,
                    zlib.error,
                ) as exc:
                    yield InputError(doc_id, source, f"corrupt ZIP entry: {exc}")
                    continue
                if suffix in TABLE_SUFFIXES:
                    yield from iter_table(data, source)
                    continue
                try:
                    yield read_bytes(data, source, doc_id=doc_id, metadata=_city_of(name))
                except DocumentError as exc:
                    yield InputError(doc_id, source, str(exc))
            else:
                yield InputError(doc_id, source, f"unsupported file type {suffix or '(none)'}")


def _one_file(path: Path, doc_id: str, metadata: dict[str, str]) -> Iterator[SourceDocument | InputError]:
    try:
        if path.is_symlink():
            raise DocumentError("symbolic link: refused")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DocumentError(f"file is {size / 1e6:.1f} MB, above the {MAX_BYTES / 1e6:.0f} MB limit")
        yield read_bytes(path.read_bytes(), str(path), doc_id=doc_id, metadata=metadata)
    except DocumentError as exc:
        yield InputError(doc_id, str(path), str(exc))
    except OSError as exc:
        yield InputError(doc_id, str(path), f"cannot read: {exc.strerror}")


def _table_file(path: Path, local_paths: bool) -> Iterator[SourceDocument | InputError]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield InputError(path.stem, str(path), f"cannot read: {exc.strerror}")
        return
    yield from iter_table(data, str(path), path.parent if local_paths else None)


def iter_documents(inputs: Iterable[str], *, local_paths: bool = True) -> Iterator[SourceDocument | InputError]:
    """Every document named by ``inputs``: files, folders (recursive), ZIPs, .jsonl/.csv tables, ``-`` (stdin).

    ``local_paths=False`` refuses the ``path`` column of tables: a table uploaded to the service must not make
    the server read its own files (``/etc/…``, the database); the command line trusts its user's paths.
    """
    for item in inputs:
        if item == "-":
            text = sys.stdin.read()
            if text.strip():
                yield SourceDocument("stdin", clean_text(text), "stdin", "text")
            else:
                yield InputError("stdin", "stdin", "empty input")
            continue
        path = Path(item)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink()):
                relative = PurePosixPath(child.relative_to(path).as_posix())
                suffix = child.suffix.lower()
                if suffix in TABLE_SUFFIXES:
                    yield from _table_file(child, local_paths)
                elif suffix == ".zip":
                    yield from iter_zip(child)
                elif suffix in SUPPORTED_SUFFIXES:
                    yield from _one_file(child, relative.with_suffix("").as_posix(), _city_of(relative))
                else:
                    yield InputError(relative.as_posix(), str(child), f"unsupported file type {suffix or '(none)'}")
        elif not path.exists():
            yield InputError(path.stem, str(path), "no such file or folder")
        elif path.suffix.lower() in TABLE_SUFFIXES:
            yield from _table_file(path, local_paths)
        elif path.suffix.lower() == ".zip":
            yield from iter_zip(path)
        else:
            yield from _one_file(path, path.stem, {})


def count_documents(inputs: Iterable[str]) -> int:
    """A cheap estimate of how many items ``iter_documents`` will yield (for progress bars and ETAs)."""
    total = 0
    for item in inputs:
        path = Path(item)
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        for file in files:
            suffix = file.suffix.lower()
            try:
                if suffix in TABLE_SUFFIXES:
                    total += max(0, sum(1 for line in file.open("rb") if line.strip()) - (suffix == ".csv"))
                elif suffix == ".zip":
                    with zipfile.ZipFile(file) as archive:
                        total += sum(1 for i in archive.infolist() if not i.is_dir())
                else:
                    total += 1
            except (OSError, zipfile.BadZipFile):
                total += 1
    return total
