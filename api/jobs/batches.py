"""Batch uploads (``POST /batches``) classified in the background, one at a time, resumable after a crash.

Each batch has a folder under ``settings.batches_path``: the upload as received
and ``out/``, the output folder of a ``run_bulk`` job (fsync'ed journals, so a
killed server loses at most the batch in flight). The worker goes in three
steps, each safe to repeat:

1. store every readable document of the upload as ``received``, with its batch
   and its id inside the upload (unique together: a repeat adds nothing);
2. ``run_bulk`` with the ``single`` engine and the model version pinned to the
   batch, which skips whatever its journals already hold;
3. after every journaled chunk (and once more at the end) attach the new
   predictions to the stored documents that have none yet.

At startup the service resumes batches left ``queued`` or ``running``. A file
lock on the batch folder keeps two server processes off the same batch.

A cancel (``POST /batches/{id}/cancel``) sets the status in the database; the
worker reads it after every chunk and stops there, so a cancelled batch is never
resumed. ``remove_batch`` deletes a finished batch's folder and row (its documents
stay), and ``expire_batches`` removes the folders of batches finished longer ago
than ``settings.batch_retention_days`` (at startup, then every hour).
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from api.deps import AppState
from api.inputs import InputError, iter_documents
from api.jobs import bulk
from api.jobs.bulk import BulkOptions, run_bulk, write_csv
from api.jobs.report import build_report, write_report
from api.store import queries
from api.store.tables import FINISHED_BATCH_STATUSES, Batch, User, utcnow
from classifier.documents import SourceDocument
from classifier.pipeline import Prediction
from training.registry import RegistryError

__all__ = [
    "KINDS",
    "BatchRunner",
    "UploadError",
    "BatchBusy",
    "accept_upload",
    "check_upload",
    "document_key",
    "expire_batches",
    "output_dir",
    "public_rows",
    "remove_batch",
    "upload_path",
]

log = logging.getLogger(__name__)

KINDS = {".zip": "zip", ".csv": "csv", ".jsonl": "jsonl"}
STORE_CHUNK = 200  # documents stored per transaction in step 1
RETENTION_INTERVAL = 3600.0  # seconds between two retention sweeps after the one at startup
TRASH_PREFIX = ".deleting-"  # a deleted batch's folder while it is being removed (a crash leaves it to the sweep)
TRASH_GRACE = 3600.0  # seconds before the sweep removes such a leftover
PREDICTION_FIELDS = tuple(Prediction.model_fields)


class UploadError(ValueError):
    """An upload that cannot be a batch (empty, not a ZIP, a CSV without a text column...)."""


class BatchStopped(Exception):
    """The server is shutting down: the batch stays ``running`` and resumes at the next start."""


class BatchCancelled(Exception):
    """Someone cancelled the batch: the worker stops after the chunk in flight and never resumes it."""


class BatchBusy(RuntimeError):
    """A worker (of this or another server process) still holds the batch's folder."""


# ---- the batch folder --------------------------------------------------------------------------------


def batch_folder(root: Path, batch: Batch) -> Path:
    return root / batch.folder


@contextmanager
def _folder_lock(folder: Path, *, create: bool = True) -> Iterator[bool]:
    """The batch folder's lock, without waiting: yields False when someone else holds it (or, with ``create``
    off, when the folder is gone)."""
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        yield False
        return
    with (folder / ".lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def upload_path(root: Path, batch: Batch) -> Path:
    """The upload as received (absolute: bulk journals record sources by this path)."""
    return (root / batch.folder / f"upload.{batch.kind}").resolve()


def output_dir(root: Path, batch: Batch) -> Path:
    return root / batch.folder / "out"


def document_key(doc_id: str) -> str:
    """The unique key of a document inside its batch: its id, or a digest when the id is very long."""
    if len(doc_id.encode("utf-8")) <= 500:
        return doc_id
    return "sha256:" + hashlib.sha256(doc_id.encode("utf-8")).hexdigest()


def check_upload(path: Path, kind: str) -> None:
    """Refuse an upload that cannot hold documents at all; single bad entries are the job's errors, not ours."""
    if path.stat().st_size == 0:
        raise UploadError("empty file: nothing to classify")
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                if not any(not info.is_dir() for info in archive.infolist()):
                    raise UploadError("the ZIP holds no files")
        except (zipfile.BadZipFile, OSError) as exc:
            raise UploadError(f"not a readable ZIP: {exc}") from None
        return
    with path.open("rb") as handle:
        head = handle.read(256 * 1024)
    text = head.decode("utf-8-sig", errors="replace")
    if kind == "csv":
        header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
        if "text" not in {column.strip().lower() for column in header}:
            raise UploadError("CSV needs a header row with a 'text' column (uploads carry the text, not paths)")
        return
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        row = json.loads(first)
    except ValueError:
        row = None
    if not isinstance(row, dict):
        raise UploadError("JSONL needs one JSON object per line; the first line is not one")


def accept_upload(
    state: AppState, user: User, incoming: Path, *, filename: str, kind: str, city: str | None, country: str | None
) -> int:
    """Move a checked upload into its own folder and store the queued batch; returns its id."""
    root = state.settings.batches_path
    folder = secrets.token_hex(8)
    target = root / folder
    try:
        with state.db.session() as session:
            batch = queries.create_batch(
                session,
                filename=filename,
                kind=kind,
                folder=folder,
                size_bytes=incoming.stat().st_size,
                city=city,
                country=country,
                user=user,
            )
            target.mkdir(parents=True)
            os.replace(incoming, target / f"upload.{kind}")
            return batch.id
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        incoming.unlink(missing_ok=True)
        raise


# ---- what the downloads show -------------------------------------------------------------------------


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    """Complete lines of a journal (a line still being written is left out)."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        for line in handle:
            if line.endswith(b"\n") and line.strip():
                yield json.loads(line)


def public_rows(path: Path, batch: Batch, upload: Path) -> Iterator[dict[str, Any]]:
    """Journal rows as clients see them: the batch's default city and country filled in, and sources named
    after the uploaded file instead of the server's folder."""
    prefix = str(upload)
    for row in _lines(path):
        source = row.get("source", "")
        if source.startswith(prefix):
            row["source"] = batch.filename + source[len(prefix) :]
        if "label" in row:  # a prediction, not an error
            row["city"] = row.get("city") or batch.city or ""
            row["country"] = row.get("country") or batch.country or ""
        yield row


def _publish(out: Path, batch: Batch, upload: Path) -> None:
    """Rewrite predictions.csv and the reports from the journals as clients see them."""
    predictions = sorted(public_rows(out / "predictions.jsonl", batch, upload), key=lambda r: (r["city"], r["id"]))
    errors = list(public_rows(out / "errors.jsonl", batch, upload))
    write_csv(predictions, out / "predictions.csv")
    write_report(build_report(predictions, errors), out)


# ---- the worker --------------------------------------------------------------------------------------


class _Ingest:
    """Attaches journaled predictions to the batch's stored documents, reading the journal from an offset."""

    def __init__(self, state: AppState, batch_id: int, journal: Path) -> None:
        self.state = state
        self.batch_id = batch_id
        self.journal = journal
        self.offset = 0
        self.rows = 0

    def step(self) -> int:
        """Read the journal's new complete lines and store their predictions; returns how many were new."""
        if not self.journal.exists():
            return 0
        with self.journal.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        rows = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
        self.rows += len(rows)
        stored = 0
        for start in range(0, len(rows), STORE_CHUNK):  # one transaction, a few statements, per chunk
            chunk = [
                {"key": document_key(row["id"]), "payload": {k: row[k] for k in PREDICTION_FIELDS if k in row}}
                for row in rows[start : start + STORE_CHUNK]
            ]
            with self.state.db.session() as session:
                attached = queries.attach_batch_predictions(session, self.batch_id, chunk)
            for row in attached:  # rows attached before a restart are skipped above
                self.state.metrics.observe_prediction(row["payload"]["label"], row["payload"]["model_version"])
            stored += len(attached)
        return stored


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


class BatchRunner:
    """Runs batches one at a time on a background thread; ``resume`` picks up what a restart interrupted."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.root = state.settings.batches_path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="partnership-batch")
        self._lock = threading.Lock()
        self._futures: dict[int, Future] = {}
        self._stop = threading.Event()
        self._retention: threading.Thread | None = None

    def schedule(self, batch_id: int) -> None:
        """Queue a batch for the worker (a batch already waiting or running is not queued twice)."""
        with self._lock:
            if self._stop.is_set():
                return
            future = self._futures.get(batch_id)
            if future is not None and not future.done():
                return
            self._futures[batch_id] = self._executor.submit(self._run, batch_id)

    def resume(self, *_: object) -> list[int]:
        """Schedule every batch left queued or running (at startup, and when a model starts serving)."""
        with self.state.db.session() as session:
            ids = [b.id for b in queries.unfinished_batches(session)]
        for batch_id in ids:
            self.schedule(batch_id)
        return ids

    def wait(self, batch_id: int, timeout: float | None = None) -> None:
        """Block until the worker is done with the batch (tests and the CLI)."""
        future = self._futures.get(batch_id)
        if future is not None:
            future.result(timeout)

    def start_retention(self, interval: float = RETENTION_INTERVAL) -> None:
        """Expire old batches' files now and then every ``interval`` seconds, on a daemon thread, until shutdown."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    expire_batches(self.state)
                except Exception:  # a full disk or a database hiccup must not end the loop
                    log.exception("batch retention sweep failed; retrying in %.0f s", interval)
                self._stop.wait(interval)

        if self._retention is None and self.state.settings.batch_retention_days > 0:
            self._retention = threading.Thread(target=loop, name="partnership-batch-retention", daemon=True)
            self._retention.start()

    def shutdown(self) -> None:
        """Stop after the chunk in flight; an interrupted batch stays ``running`` and resumes at the next start."""
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._retention is not None:
            self._retention.join(timeout=30)

    def _update(self, batch_id: int, *, only_if: tuple[str, ...] | None = None, **values: Any) -> bool:
        with self.state.db.session() as session:
            return queries.update_batch(session, batch_id, only_if=only_if, **values)

    def _status(self, batch_id: int) -> str:
        with self.state.db.session() as session:
            return queries.get_batch(session, batch_id).status

    def _check(self, batch_id: int) -> None:
        """Between chunks: stop for a shutdown (resumed later) or a cancel (never resumed)."""
        if self._stop.is_set():
            raise BatchStopped
        if self._status(batch_id) == "cancelled":
            raise BatchCancelled

    def _run(self, batch_id: int) -> None:
        try:
            with self.state.db.session() as session:
                folder = batch_folder(self.root, queries.get_batch(session, batch_id))
        except queries.NotFound:  # deleted while it waited
            return
        with _folder_lock(folder) as locked:
            if not locked:
                log.warning("batch %s is being processed by another server process", batch_id)
                return
            try:
                self._process(batch_id)
            except BatchStopped:
                log.info("batch %s stopped by shutdown; it resumes at the next start", batch_id)
            except BatchCancelled:
                log.info("batch %s cancelled; what it classified so far stays in the review queue", batch_id)
            except queries.NotFound:
                log.info("batch %s was deleted before it started", batch_id)
                shutil.rmtree(folder, ignore_errors=True)  # the lock above may have made the folder again
            except Exception as exc:
                log.exception("batch %s failed", batch_id)
                message = f"{type(exc).__name__}: {exc}"  # the traceback goes to the log, not to clients
                self._update(
                    batch_id, only_if=("queued", "running"), status="failed", error=message, finished_at=utcnow()
                )
            finally:
                bulk._PIPELINE = None  # the single engine's model: free it between batches

    def _process(self, batch_id: int) -> None:
        with self.state.db.session() as session:
            batch = queries.get_batch(session, batch_id)
            session.expunge(batch)
        if batch.status not in ("queued", "running"):
            return
        holder = self.state.holder
        version = batch.model_version or holder.version
        if version is None:
            log.info("batch %s waits for a model to serve", batch_id)
            return
        try:
            model_folder = holder.registry.path(version)
        except RegistryError:
            raise RuntimeError(f"model version {version} of this batch is no longer in the registry") from None
        upload = upload_path(self.root, batch)
        if not upload.is_file():
            raise RuntimeError(f"the uploaded {batch.filename} is no longer on disk")
        now = utcnow()
        if not self._update(
            batch_id,
            only_if=("queued", "running"),
            status="running",
            model_version=version,
            attempts=batch.attempts + 1,
            started_at=batch.started_at or now,
            error="",
        ):
            return  # cancelled (or deleted) while it waited: a cancelled batch never starts

        batch.model_version = version
        out = output_dir(self.root, batch)
        if batch.total is None:
            batch.total = self._store_documents(batch, upload)
            self._update(batch_id, total=batch.total)
        ingest = _Ingest(self.state, batch_id, out / "predictions.jsonl")
        ingest.step()  # predictions journaled before a crash but not yet attached
        started = time.perf_counter()
        done_before = ingest.rows + _count_lines(out / "errors.jsonl")

        def progress(done: int, _total: int | None) -> None:
            ingest.step()
            elapsed = max(time.perf_counter() - started, 1e-6)
            errors = _count_lines(out / "errors.jsonl")
            self._update(
                batch_id,
                done=done,
                predicted=ingest.rows,
                errors=errors,
                docs_per_second=round(max(done - done_before, 0) / elapsed, 3),
            )
            self._check(batch_id)

        options = BulkOptions(
            model=str(model_folder.resolve()),
            engine="single",
            batch_size=self.state.settings.batch_chunk_size,
            int8=self.state.settings.int8,
            backend=self.state.settings.backend,
            extract=holder.extract,
            explain="none",
            local_paths=False,
        )
        run_bulk([str(upload)], out, options, progress=progress, total=batch.total)
        ingest.step()
        _publish(out, batch, upload)
        predicted, errors = _count_lines(out / "predictions.jsonl"), _count_lines(out / "errors.jsonl")
        counts = {"done": predicted + errors, "predicted": predicted, "errors": errors}
        if not self._update(
            batch_id, only_if=("running",), status="done", total=predicted + errors, finished_at=utcnow(), **counts
        ):
            self._update(batch_id, **counts)  # cancelled after its last chunk: it stays cancelled
            raise BatchCancelled
        with self.state.db.session() as session:
            queries.record_event(
                session,
                None,
                "batch_done",
                {"batch": batch_id, "predicted": predicted, "errors": errors},
                model_version=version,
            )

    def _store_documents(self, batch: Batch, upload: Path) -> int:
        """Step 1: every readable document of the upload stored as received; returns the number of items."""
        total, seen, chunk = 0, set(), []

        def flush() -> None:
            if chunk:
                with self.state.db.session() as session:
                    queries.add_batch_documents(session, session.get(Batch, batch.id), chunk)
                chunk.clear()
            self._check(batch.id)

        for item in iter_documents([str(upload)], local_paths=False):
            total += 1
            if isinstance(item, InputError) or item.id in seen:  # errors and duplicate ids: journaled by run_bulk
                continue
            seen.add(item.id)
            chunk.append(self._document(item, batch))
            if len(chunk) >= STORE_CHUNK:
                flush()
        flush()
        return total

    @staticmethod
    def _document(item: SourceDocument, batch: Batch) -> dict[str, Any]:
        return {
            "key": document_key(item.id),
            "name": item.id,
            "format": item.format,
            "text": item.text,
            "city": (item.metadata.get("city") or batch.city or "")[:120],
            "country": (item.metadata.get("country") or batch.country or "")[:120],
        }


# ---- deleting a batch, and retention -----------------------------------------------------------------


def remove_batch(state: AppState, batch_id: int, user: User) -> int:
    """Delete a finished batch: its folder (upload and outputs) and its row; its documents stay, unlinked from it.

    The folder is renamed aside first and removed only after the row's deletion committed, so a failure leaves
    either the whole batch or nothing of it (a crash in between leaves a renamed folder the retention sweep
    removes). Returns how many documents were kept. :class:`BatchBusy` while a worker still holds the folder.
    """
    root = state.settings.batches_path
    with state.db.session() as session:
        batch = queries.get_batch(session, batch_id)
        if batch.status not in FINISHED_BATCH_STATUSES:
            raise queries.BatchConflict(
                f"batch {batch_id} is {batch.status}: cancel it first (POST /batches/{batch_id}/cancel)"
            )
        folder = batch_folder(root, batch)
    with _folder_lock(folder, create=False) as locked:
        if folder.is_dir() and not locked:
            raise BatchBusy(f"batch {batch_id} is still stopping after its current chunk; retry in a few seconds")
        trash = root / f"{TRASH_PREFIX}{folder.name}"
        if folder.is_dir():
            os.replace(folder, trash)
        try:
            with state.db.session() as session:
                kept = queries.delete_batch(session, batch_id, user)
        except BaseException:
            if trash.is_dir():
                os.replace(trash, folder)
            raise
    shutil.rmtree(trash, ignore_errors=True)
    return kept


def expire_batches(state: AppState, now: datetime | None = None) -> list[int]:
    """Remove the folders (upload and outputs) of batches finished more than ``batch_retention_days`` before
    ``now`` and record when; returns their ids. Their documents and predictions stay in the database.

    Also removes what an interrupted ``remove_batch`` left. ``batch_retention_days`` 0 keeps everything.
    """
    days = state.settings.batch_retention_days
    if days <= 0:
        return []
    now = now or utcnow()
    root = state.settings.batches_path
    for trash in root.glob(f"{TRASH_PREFIX}*") if root.is_dir() else []:
        if time.time() - trash.stat().st_ctime > TRASH_GRACE:  # not one a remove_batch is working on right now
            shutil.rmtree(trash, ignore_errors=True)
    with state.db.session() as session:
        candidates = [
            (b.id, batch_folder(root, b)) for b in queries.expirable_batches(session, now - timedelta(days=days))
        ]
    expired = []
    for batch_id, folder in candidates:
        with _folder_lock(folder, create=False) as locked:
            if folder.is_dir() and not locked:
                continue  # a worker is still stopping it: the next sweep takes it
            shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():
            log.warning("could not remove the folder of batch %s (%s); retrying at the next sweep", batch_id, folder)
            continue
        with state.db.session() as session:
            if queries.update_batch(session, batch_id, only_if=FINISHED_BATCH_STATUSES, files_expired_at=utcnow()):
                expired.append(batch_id)
    if expired:
        log.info("retention (%s days): removed the files of batches %s", days, expired)
    return expired
