"""Feedback-driven retraining: corpus train split + accepted reviews → new version → promote by the rule.

Training data is the corpus's train split plus the latest review of every
reviewed document, with the reviewer's label. Never used: the validation and
test splits (a review whose text matches a held-out corpus document is left
out, so the test figures stay honest), unreviewed documents, and any model or
LLM label. ``training.train.train_version`` evaluates on the test split and
promotes only if the new macro-F1 >= the serving one's - 0.005; the job
records that comparison, and the server then swaps models without a restart.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path
from typing import Any

from api.serving import ModelHolder
from api.settings import Settings
from api.store import queries
from api.store.db import Database
from api.store.queries import TrainingExample
from api.store.tables import User

__all__ = ["INTERRUPTED", "JobBusy", "RetrainRunner", "build_dataset", "finetune_config", "recover_interrupted"]

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted by a restart"


class JobBusy(RuntimeError):
    """A retraining job is already queued or running."""


def _key(text: str) -> str:
    return " ".join(text.split()).lower()


def finetune_config(settings: Settings, input_format: str = "text"):
    """The fine-tune configuration of a retraining job, from settings (tests use a tiny one)."""
    from training.finetune import FinetuneConfig

    return FinetuneConfig(
        epochs=settings.retrain_epochs,
        max_length=settings.retrain_max_length,
        batch_size=settings.retrain_batch_size,
        freeze_layers=settings.retrain_freeze_layers,
        learning_rate=settings.retrain_learning_rate,
        input_format=input_format,
    )


def build_dataset(settings: Settings, reviews: list[TrainingExample]):
    """The corpus splits with accepted reviews added to train only; returns (DatasetDict, counts)."""
    from datasets import Dataset, DatasetDict, concatenate_datasets

    from training.corpus import load_corpus
    from training.data import FEATURES, to_dataset_dict
    from training.splits import load_splits

    records = load_corpus(settings.corpus_dir)
    splits = load_splits(settings.splits_file)
    dataset = to_dataset_dict(records, splits)
    held_out = {_key(r.text) for r in records if splits[r.id] != "train"}
    rows, skipped = [], 0
    for review in reviews:
        if _key(review.text) in held_out:
            skipped += 1
            continue
        rows.append(
            {
                "id": f"review-{review.document_id}",
                "text": review.text,
                "label": review.label,
                "city": review.city or "",
                "country": review.country or "",
                "genre": "submission",
                "sector": "unknown",
                "testbed": bool(review.testbed),
                "international": review.international or "none",
                "stakeholders": [],
            }
        )
    train = dataset["train"]
    if rows:
        train = concatenate_datasets([train, Dataset.from_list(rows, features=FEATURES)])
    counts = {
        "corpus_train": len(dataset["train"]),
        "reviews": len(rows),
        "reviews_left_out_held_out_text": skipped,
        "train": len(train),
        "validation": len(dataset["validation"]),
        "test": len(dataset["test"]),
    }
    return DatasetDict({"train": train, "validation": dataset["validation"], "test": dataset["test"]}), counts


def _staging_folders(models_dir: Path, since: float) -> list[Path]:
    """Half-written versions (``train_version`` saves into ``.<version>.partial`` before renaming it) from
    ``since`` (a POSIX time) on."""
    if not models_dir.is_dir():
        return []
    return [
        p
        for p in models_dir.glob(".*.partial")
        if p.is_dir() and not p.is_symlink() and p.stat().st_mtime >= since - 1.0
    ]


def recover_interrupted(settings: Settings, db: Database) -> list[int]:
    """At startup: retraining jobs left queued or running died with the previous process; mark them failed
    and remove the half-written version folders they left, which would otherwise be listed (and promotable)
    as versions. Returns the ids of the jobs marked failed.

    Only staging folders written since the oldest interrupted job started are removed (the service is meant to
    own its models folder; a ``partnership train`` into the same folder at that very moment would lose its own).
    """
    with db.session() as session:
        jobs = queries.fail_interrupted_jobs(session, "retrain", INTERRUPTED)
        ids = [job.id for job in jobs]
        starts = [job.started_at for job in jobs if job.started_at is not None]
    if starts:
        oldest = min(s if s.tzinfo else s.replace(tzinfo=UTC) for s in starts).timestamp()
        for folder in _staging_folders(settings.models_dir, oldest):
            log.warning("removing %s, left half-written by an interrupted retraining job", folder)
            shutil.rmtree(folder, ignore_errors=True)
    if ids:
        log.warning("retraining job(s) %s marked failed: %s", ids, INTERRUPTED)
    return ids


class RetrainRunner:
    """Runs one retraining job at a time on a background thread and records it in the ``jobs`` table."""

    def __init__(self, settings: Settings, db: Database, holder: ModelHolder) -> None:
        self.settings = settings
        self.db = db
        self.holder = holder
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="partnership-retrain")
        self._lock = threading.Lock()
        self._futures: dict[int, Any] = {}

    def start(self, user: User) -> int:
        """Queue a job and return its id; raises :class:`JobBusy` if one is already active."""
        with self._lock:
            if any(not f.done() for f in self._futures.values()):
                raise JobBusy("a retraining job is already running; wait for it to finish")
            with self.db.session() as session:
                job_id = queries.create_job(session, "retrain", user).id
                queries.record_event(session, user, "retrain_requested", {"job": job_id})
            self._futures[job_id] = self._executor.submit(self._run, job_id, user.id)
            return job_id

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        """Block until the job ends (CLI and tests)."""
        future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout)

    def _serving_figures(self) -> dict[str, Any] | None:
        version = self.holder.registry.serving()
        if version is None:
            return None
        metrics_file = self.holder.registry.path(version) / "metrics.json"
        if not metrics_file.exists():
            raise RuntimeError(f"the serving version {version} has no recorded test metrics to compare against")
        test = json.loads(metrics_file.read_text(encoding="utf-8")).get("test", {})
        return {"version": version, "macro_f1": test.get("macro_f1"), "accuracy": test.get("accuracy")}

    def _run(self, job_id: int, user_id: int) -> None:
        from training.train import PROMOTION_TOLERANCE, train_version

        with self.db.session() as session:
            queries.start_job(session, job_id)
        try:
            before = self._serving_figures()
            with self.db.session() as session:
                reviews = queries.accepted_reviews(session)
            dataset, counts = build_dataset(self.settings, reviews)
            input_format, extractor = "text", None
            serving = self.holder.pipeline
            if serving is not None and serving.model.settings.input_format != "text" and serving.extractor:
                input_format, extractor = serving.model.settings.input_format, serving.extractor
            result = train_version(
                dataset,
                self.settings.models_dir,
                finetune_config(self.settings, input_format),
                extractor=extractor,
                promote=True,
                baselines=self.settings.retrain_baselines,
            )
            if result.promoted:
                self.holder.reload()
            outcome = {
                "version": result.version,
                "promoted": result.promoted,
                "reason": result.reason,
                "rule": f"promote if new test macro-F1 >= serving - {PROMOTION_TOLERANCE}",
                "new": {k: result.metrics["test"][k] for k in ("macro_f1", "accuracy")},
                "serving_before": before,
                "serving_after": self.holder.registry.serving(),
                "comparison": result.metrics.get("comparison", {}),
                "data": counts,
                "config": result.metrics.get("training", {}).get("config", {}),
            }
        except Exception as exc:
            log.exception("retraining job %s failed", job_id)
            with self.db.session() as session:
                queries.finish_job(
                    session, job_id, error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
                )
            return
        with self.db.session() as session:
            queries.finish_job(session, job_id, result=outcome)
            actor = session.get(User, user_id)
            queries.record_event(
                session, actor, "retrained", {"job": job_id, **outcome}, model_version=outcome["serving_after"]
            )

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
