"""Bulk classification of a city submission: resumable, every document exactly once, both cores busy.

The output folder is the job's state. ``predictions.jsonl`` and ``errors.jsonl``
are append-only journals, written a batch at a time and fsync'ed; a restart
reads them, cuts a line torn by a crash, and skips what is done, so a job killed
at any moment and started again with the same command finishes with every
input exactly once. ``predictions.csv`` and the reports are derived at the end.

Engines: ``single`` (one process, all threads: the baseline), ``local`` (one
worker process per core, each with one thread), ``ray`` (``api.jobs.ray_engine``).
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from api.inputs import InputError, iter_documents
from classifier.documents import SourceDocument

__all__ = ["BulkOptions", "BulkResult", "BulkState", "run_bulk", "write_csv"]

ENGINES = ("single", "local", "ray")
CSV_FIELDS = ["id", "city", "country", "label", "label_name", "confidence", "needs_review", "testbed", "international"]
CSV_FIELDS += [f"p_{label}" for label in "ABCDE"] + ["model_version", "stakeholders", "evidence", "source"]
Progress = Callable[[int, int | None], None]


@dataclass
class BulkOptions:
    """How to run a bulk job; recorded in the output folder's manifest."""

    model: str
    engine: str = "local"
    workers: int = 2
    batch_size: int = 32
    int8: bool = True
    backend: str = "torch"  # or "onnx" (classifier.onnx_runtime)
    extract: bool = True
    explain: str = "review"
    ray_address: str | None = None
    local_paths: bool = True  # tables' ``path`` column may name local files (False for uploads to the service)


@dataclass
class BulkResult:
    """Counts of one run and where its outputs are."""

    output: Path
    classified: int
    errors: int
    skipped_done: int
    seconds: float
    files: dict[str, str] = field(default_factory=dict)


def _fsync_append(path: Path, lines: list[str]) -> None:
    if not lines:
        return
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(lines))
        handle.flush()
        os.fsync(handle.fileno())


def _repair(path: Path) -> list[dict]:
    """Rows of a JSONL journal; a last line torn by a crash is cut off the file."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
    rows = []
    for line in data[:end].decode("utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


class BulkState:
    """The output folder: what is done (by id and source), and the journals to append to."""

    def __init__(self, output: Path, inputs: list[str], options: BulkOptions) -> None:
        self.output = output
        output.mkdir(parents=True, exist_ok=True)
        self.predictions_file = output / "predictions.jsonl"
        self.errors_file = output / "errors.jsonl"
        self.manifest_file = output / "manifest.json"
        identity = {"inputs": [str(Path(i).resolve()) if i != "-" else i for i in inputs], "model": options.model}
        if self.manifest_file.exists():
            manifest = json.loads(self.manifest_file.read_text(encoding="utf-8"))
            previous = {"inputs": manifest["inputs"], "model": manifest["options"]["model"]}
            if previous != identity:
                raise ValueError(
                    f"{output} holds a job for other inputs or another model ({previous}); use a new output folder"
                )
        else:
            manifest = {
                **identity,
                "options": asdict(options),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            tmp = self.manifest_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            os.replace(tmp, self.manifest_file)
        self.predictions_file.touch(exist_ok=True)
        self.errors_file.touch(exist_ok=True)
        self.predictions = _repair(self.predictions_file)
        self.errors = _repair(self.errors_file)
        self.done: set[tuple[str, str]] = {(r["id"], r["source"]) for r in self.predictions + self.errors}
        self.first_source: dict[str, str] = {}
        for row in self.predictions:
            self.first_source.setdefault(row["id"], row["source"])

    def add_predictions(self, rows: list[dict]) -> None:
        _fsync_append(self.predictions_file, [json.dumps(r, ensure_ascii=False) + "\n" for r in rows])
        self.predictions += rows
        self.done.update((r["id"], r["source"]) for r in rows)

    def add_error(self, doc_id: str, source: str, reason: str) -> None:
        row = {"id": doc_id, "source": source, "reason": reason}
        _fsync_append(self.errors_file, [json.dumps(row, ensure_ascii=False) + "\n"])
        self.errors.append(row)
        self.done.add((doc_id, source))


def _todo(state: BulkState, stream: Iterable[SourceDocument | InputError]) -> Iterator[SourceDocument]:
    """Documents not done yet; new errors and duplicate ids are journaled on the way."""
    for item in stream:
        if (item.id, item.source) in state.done:
            continue
        if isinstance(item, InputError):
            state.add_error(item.id, item.source, item.reason)
            continue
        first = state.first_source.setdefault(item.id, item.source)
        if first != item.source:
            state.add_error(item.id, item.source, f"duplicate id {item.id!r}, first seen in {first}")
            continue
        yield item


def _batches(docs: Iterable[SourceDocument], size: int) -> Iterator[list[SourceDocument]]:
    batch: list[SourceDocument] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---- engines: each maps batches of documents to batches of prediction rows ------------------------

_PIPELINE = None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's cpuset, ``taskset``), not the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity on this platform
        return max(1, os.cpu_count() or 1)


def _load_worker(options: dict, threads: int) -> None:
    """Pool initializer: one model per process, loaded once."""
    global _PIPELINE
    import torch

    from classifier.pipeline import Pipeline

    torch.set_num_threads(threads)
    _PIPELINE = Pipeline.load(
        Path(options["model"]),
        int8=options["int8"],
        extract=options["extract"],
        explain=options["explain"],
        backend=options.get("backend", "torch"),
        threads=threads,
    )


def _rows(pipeline, batch: list[SourceDocument]) -> list[dict]:
    rows = []
    for doc, prediction in zip(batch, pipeline.predict(batch), strict=True):
        row = prediction.model_dump()
        row["city"] = doc.metadata.get("city", "")
        row["country"] = doc.metadata.get("country", "")
        row["source"] = doc.source
        rows.append(row)
    return rows


def _predict_in_worker(batch: list[SourceDocument]) -> list[dict]:
    return _rows(_PIPELINE, batch)


def _single_engine(options: BulkOptions, batches: Iterator[list[SourceDocument]]) -> Iterator[list[dict]]:
    _load_worker(asdict(options), threads=usable_cores())
    for batch in batches:
        yield _predict_in_worker(batch)


def _local_engine(options: BulkOptions, batches: Iterator[list[SourceDocument]]) -> Iterator[list[dict]]:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(options.workers, initializer=_load_worker, initargs=(asdict(options), 1)) as pool:
        yield from pool.imap_unordered(_predict_in_worker, batches)


def run_bulk(
    inputs: list[str],
    output: Path,
    options: BulkOptions,
    progress: Progress | None = None,
    total: int | None = None,
) -> BulkResult:
    """Classify everything in ``inputs`` into ``output``; resumes where a previous run of the same job stopped."""
    if options.engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    started = time.perf_counter()
    state = BulkState(output, inputs, options)
    already = len(state.done)
    batches = _batches(_todo(state, iter_documents(inputs, local_paths=options.local_paths)), options.batch_size)
    if options.engine == "single":
        results = _single_engine(options, batches)
    elif options.engine == "local":
        results = _local_engine(options, batches)
    else:
        from api.jobs.ray_engine import ray_engine

        results = ray_engine(options, batches)
    classified = 0
    for rows in results:
        state.add_predictions(rows)
        classified += len(rows)
        if progress:
            progress(len(state.done), total)
    files = finish(state)
    return BulkResult(output, classified, len(state.errors), already, time.perf_counter() - started, files)


def write_csv_rows(handle: IO[str], predictions: Iterable[dict]) -> None:
    """The predictions as CSV rows, one per document (stakeholders and evidence flattened).

    Shared by ``partnership bulk`` and ``partnership classify --format csv`` so both write one layout.
    """
    writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for p in predictions:
        row = dict(p, **{f"p_{k}": v for k, v in p["probabilities"].items()})
        row["stakeholders"] = "; ".join(
            f"{s.get('name', s.get('text'))} ({s.get('type')}, {s.get('role')})" for s in p.get("stakeholders", [])
        )
        row["evidence"] = " | ".join(e["sentence"] for e in p.get("evidence", []))
        writer.writerow(row)


def write_csv(predictions: list[dict], path: Path) -> None:
    """The predictions as a CSV file, written atomically."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        write_csv_rows(handle, predictions)
    os.replace(tmp, path)


def finish(state: BulkState) -> dict[str, str]:
    """Derive predictions.csv and the per-city reports from the journals."""
    from api.jobs.report import build_report, write_report

    predictions = sorted(state.predictions, key=lambda r: (r.get("city", ""), r["id"]))
    write_csv(predictions, state.output / "predictions.csv")
    report = build_report(predictions, state.errors)
    html, js = write_report(report, state.output)
    return {
        "predictions": str(state.predictions_file),
        "csv": str(state.output / "predictions.csv"),
        "errors": str(state.errors_file),
        "report_html": str(html),
        "report_json": str(js),
    }
