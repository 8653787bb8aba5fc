"""The LLM's second opinion beside the classifier's prediction: in the background, and on demand.

The opinion is advice for the reviewer. It is stored in the prediction's JSON
``payload`` under ``llm_opinion`` (no schema change), shown on the review page
with an agreement mark, and never becomes a label or training data: the
retraining job reads reviews only, so an LLM label counts only once a reviewer
accepts it.

:class:`OpinionWorker` is one thread that polls for new predictions (any path
that classifies: submissions, bulk intake, another process) and asks the LLM
about those ``llm_review`` selects, one at a time, through the process's
:func:`~classifier.llm.adviser_for` adviser: its semaphore
(``llm_concurrency``) is shared with the page's "Ask the LLM" button, and the
worker never holds more than one slot, so a reviewer who asks is not starved
by the backlog. Its queue is bounded; what does not fit is read again later
(the poll cursor only moves past what was queued or skipped on purpose).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from sqlalchemy.exc import OperationalError

from api.settings import Settings
from api.store import queries
from api.store.db import Database
from api.store.tables import User, utcnow
from classifier.llm import Adviser, LLMOpinion, adviser_for

__all__ = [
    "MODES",
    "QUEUE_SIZE",
    "OpinionWorker",
    "agreement",
    "ask",
    "compute_opinion",
    "review_mode",
    "store_opinion",
    "wanted",
]

log = logging.getLogger(__name__)

MODES = ("off", "needs_review", "all")
QUEUE_SIZE = 32  # documents waiting for a background opinion; more are picked up by a later poll
POLL_SECONDS = 2.0


def review_mode(settings: Settings) -> str:
    """``llm_review`` in force; unset means needs_review behind a configured endpoint, off for the local model.

    The local SmolLM2 is near chance on this task (accuracy 0.23 on 100 test documents) and takes
    seconds of the server's CPU per document, so it runs only when asked (or when set explicitly).
    """
    if settings.llm_review is not None:
        return settings.llm_review
    family = settings.llm_backend.split(".")[0]
    return "needs_review" if family == "openai" and settings.llm_base_url else "off"


def wanted(mode: str, payload: dict[str, Any]) -> bool:
    """Whether a prediction (its stored payload) gets a background opinion in ``mode``."""
    if mode == "off" or "llm_opinion" in payload:
        return False
    return mode == "all" or bool(payload.get("needs_review"))


def agreement(opinion: dict[str, Any] | None) -> str | None:
    """``agrees`` / ``disagrees`` (with the classifier) / ``no answer``; None when the LLM was not asked."""
    if not opinion:
        return None
    agrees = opinion.get("agrees_with_classifier")
    if opinion.get("label") in (None, "unknown") or agrees is None:
        return "no answer"
    return "agrees" if agrees else "disagrees"


def compute_opinion(settings: Settings, text: str, prediction: dict[str, Any], stakeholders: list[Any]) -> LLMOpinion:
    """The second opinion of the process's adviser for ``settings`` (never raises).

    A backend that cannot even be set up (``openai`` without ``llm_base_url``, an unknown backend
    name) gives an ``unknown`` opinion saying so. The document's current stakeholders (extracted,
    or as a reviewer corrected them) go into the prompt as they are, even when empty: the service's
    ``extract`` setting decides whether spaCy runs, not the LLM.
    """
    try:
        adviser: Adviser = adviser_for(settings)
    except Exception as exc:  # configuration errors must not fail the request or stop the worker
        return LLMOpinion(
            label="unknown",
            backend=settings.llm_backend,
            model=settings.llm_model or "unknown",
            latency_ms=0,
            classifier_label=prediction.get("label"),
            error=f"{type(exc).__name__}: {exc}",
        )
    return adviser.second_opinion(text, prediction, stakeholders=list(stakeholders or []))


def _stored(opinion: LLMOpinion, asked_by: str) -> dict[str, Any]:
    return opinion.model_dump(mode="json") | {"asked_by": asked_by, "asked_at": queries.as_utc(utcnow())}


def store_opinion(db: Database, prediction_id: int, opinion: dict[str, Any], actor: User | None) -> bool:
    """Write the opinion into the prediction's payload and check it is there (a concurrent evidence write
    may have replaced the payload it read); a few attempts, then False (logged, nothing raised)."""
    for attempt in range(3):
        try:
            with db.session() as session:
                queries.save_llm_opinion(session, prediction_id, opinion, actor=actor)
            with db.sessions() as session:
                prediction = queries.get_prediction(session, prediction_id)
                if prediction is None:
                    return False
                found = (prediction.payload or {}).get("llm_opinion") or {}
                if all(found.get(key) == opinion.get(key) for key in ("asked_at", "asked_by", "label", "latency_ms")):
                    return True
        except queries.NotFound:
            return False
        except OperationalError:  # SQLite: another writer moved the snapshot on; read again
            log.warning("storing the LLM opinion of prediction %s: retry %d", prediction_id, attempt + 1)
        time.sleep(0.05 * (attempt + 1))
    log.error("could not store the LLM opinion of prediction %s", prediction_id)
    return False


def ask(settings: Settings, db: Database, document_id: int, actor: User | None) -> dict[str, Any] | None:
    """Ask the LLM about a document's current prediction now, store the opinion, return it (None: no prediction).

    Raises :class:`~api.store.queries.NotFound` for an unknown document; LLM failures become an
    ``unknown`` opinion with ``error`` set, never an exception.
    """
    with db.sessions() as session:
        document = queries.get_document(session, document_id)
        prediction = queries.get_prediction(session, document.prediction_id)
        if prediction is None:
            return None
        prediction_id, payload = prediction.id, dict(prediction.payload or {})
        text, stakeholders = document.text, list(document.stakeholders or [])
    payload.pop("llm_opinion", None)
    opinion = _stored(compute_opinion(settings, text, payload, stakeholders), actor.name if actor else "background")
    store_opinion(db, prediction_id, opinion, actor)
    return opinion


class OpinionWorker:
    """One thread: polls for predictions that ``llm_review`` selects and stores the LLM's opinion on each."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        mode: str | None = None,
        queue_size: int = QUEUE_SIZE,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.settings = settings
        self.db = db
        self.mode = mode or review_mode(settings)
        if self.mode not in MODES:
            raise ValueError(f"llm_review must be one of {', '.join(MODES)}, not {self.mode!r}")
        self.poll_seconds = poll_seconds
        self.queue: queue.Queue[tuple[int, int]] = queue.Queue(maxsize=max(1, queue_size))
        self.cursor = 0  # the highest prediction id already queued or skipped on purpose
        self.done = 0  # opinions stored (for tests and logs)
        self.failed = 0  # documents whose opinion could not be computed or stored
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="partnership-llm-opinions", daemon=True)

    def start(self) -> OpinionWorker:
        if self.mode != "off":
            self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking work; an answer still being generated is dropped when it arrives (daemon thread)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def poll(self) -> int:
        """Queue the selected predictions newer than the cursor, as far as the queue has room; returns how many."""
        added = 0
        while not self.queue.full():
            with self.db.sessions() as session:
                rows = queries.predictions_after(session, self.cursor, limit=200)
            if not rows:
                break
            for document_id, prediction_id, payload in rows:
                if wanted(self.mode, payload):
                    try:
                        self.queue.put_nowait((document_id, prediction_id))
                    except queue.Full:
                        return added  # the cursor stays before it: the next poll reads it again
                    added += 1
                self.cursor = prediction_id
        return added

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.queue.empty():
                    self.poll()
                document_id, prediction_id = self.queue.get_nowait()
            except queue.Empty:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            except Exception:  # the database is down or being disposed: try again later, never die
                log.exception("polling for LLM opinions failed")
                self._wake.wait(self.poll_seconds)
                continue
            try:
                self._process(document_id, prediction_id)
            except Exception:  # one document must not stop the worker
                self.failed += 1
                log.exception("LLM opinion for document %s failed", document_id)

    def _process(self, document_id: int, prediction_id: int) -> None:
        with self.db.sessions() as session:
            document = queries.get_document(session, document_id)
            prediction = queries.get_prediction(session, prediction_id)
            if (
                prediction is None
                or document.prediction_id != prediction_id
                or document.status != "predicted"  # reviewed meanwhile: the reviewer no longer needs advice
                or not wanted(self.mode, prediction.payload or {})  # asked on demand meanwhile
            ):
                return
            text, payload, stakeholders = document.text, dict(prediction.payload), list(document.stakeholders or [])
        opinion = compute_opinion(self.settings, text, payload, stakeholders)
        if self._stop.is_set():
            return
        if store_opinion(self.db, prediction_id, _stored(opinion, "background"), None):
            self.done += 1
        else:
            self.failed += 1
