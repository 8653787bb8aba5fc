"""The LLM's second opinion beside the classifier's prediction: in the background, and when a reviewer asks.

The opinion is advice for the reviewer. It is stored in the prediction's JSON
``payload`` under ``llm_opinion`` (no schema change), shown on the review page
with an agreement mark, and never becomes a label or training data: the
retraining job reads reviews only, so an LLM label counts only once a reviewer
accepts it.

:class:`OpinionWorker` is one thread that polls for new predictions (any path
that classifies: submissions, bulk intake, another process) and asks the LLM
about those ``llm_review`` selects, one at a time, through the process's
:func:`~classifier.llm.adviser_for` adviser, so it never holds more than one of
its ``llm_concurrency`` slots. Its queue is bounded; what does not fit is read
again later (the poll cursor only moves past what was queued or skipped on purpose).

The page's "Ask the LLM" button goes through the same thread, in a priority lane
(:meth:`OpinionWorker.request`): the request returns at once and the reviewer's
question is answered before the next backlog document. Why not in the request:
the local SmolLM2 takes seconds to minutes on 2 cores, which held a server
thread and the reviewer that long. The lane is bounded (settings ``llm_ask_queue_size``
in all, ``llm_ask_per_user`` per reviewer) and a document is queued once however often
it is asked, so nobody can flood the LLM. Pending requests live in memory: a
restart drops them, and the page then says the question was not answered.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
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
    "AskRefused",
    "AskedOpinion",
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


@dataclass(frozen=True)
class AskedOpinion:
    """A reviewer's pending "Ask the LLM" question (in memory only: a restart drops it)."""

    document_id: int
    asked_by: str
    user_id: int | None
    asked_at: datetime  # UTC
    actor: User | None = field(default=None, compare=False, repr=False)  # for the audit row

    @property
    def stamp(self) -> str:
        """``asked_at`` as stored with the opinion (ISO 8601 UTC, seconds)."""
        return queries.as_utc(self.asked_at) or ""


class AskRefused(Exception):
    """The question was not queued (lane full, too many from this reviewer, stopping); the message says why."""


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


def _stored(opinion: LLMOpinion, asked_by: str, asked_at: str | None = None) -> dict[str, Any]:
    return opinion.model_dump(mode="json") | {"asked_by": asked_by, "asked_at": asked_at or queries.as_utc(utcnow())}


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


def ask(
    settings: Settings,
    db: Database,
    document_id: int,
    actor: User | None,
    *,
    asked_at: str | None = None,
    cancelled: threading.Event | None = None,
) -> dict[str, Any] | None:
    """Ask the LLM about a document's current prediction now (blocking), store the opinion, return it.

    None: no prediction, or ``cancelled`` was set while the LLM answered (a stopping server stores
    nothing). ``asked_at`` is when the question was asked (default: now). Raises
    :class:`~api.store.queries.NotFound` for an unknown document; LLM failures become an ``unknown``
    opinion with ``error`` set, never an exception.
    """
    with db.sessions() as session:
        document = queries.get_document(session, document_id)
        prediction = queries.get_prediction(session, document.prediction_id)
        if prediction is None:
            return None
        prediction_id, payload = prediction.id, dict(prediction.payload or {})
        text, stakeholders = document.text, list(document.stakeholders or [])
    payload.pop("llm_opinion", None)
    computed = compute_opinion(settings, text, payload, stakeholders)
    if cancelled is not None and cancelled.is_set():
        return None
    opinion = _stored(computed, actor.name if actor else "background", asked_at)
    if not store_opinion(db, prediction_id, opinion, actor):
        return None
    return opinion


class OpinionWorker:
    """One thread: answers reviewers' questions first (:meth:`request`), else polls for predictions that
    ``llm_review`` selects, and stores the LLM's opinion on each, one LLM call at a time."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        mode: str | None = None,
        queue_size: int = QUEUE_SIZE,
        poll_seconds: float = POLL_SECONDS,
        ask_queue_size: int | None = None,
        ask_per_user: int | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.mode = mode or review_mode(settings)
        if self.mode not in MODES:
            raise ValueError(f"llm_review must be one of {', '.join(MODES)}, not {self.mode!r}")
        self.poll_seconds = poll_seconds
        self.queue: queue.Queue[tuple[int, int]] = queue.Queue(maxsize=max(1, queue_size))
        self.cursor = 0  # the highest prediction id already queued or skipped on purpose
        self.done = 0  # background opinions stored (for tests and logs)
        self.failed = 0  # documents whose opinion could not be computed or stored
        self.ask_queue_size = max(1, ask_queue_size or settings.llm_ask_queue_size)
        self.ask_per_user = max(1, ask_per_user or settings.llm_ask_per_user)
        self.answered = 0  # reviewers' questions answered and stored
        self._asked: dict[int, AskedOpinion] = {}  # document id -> its pending question (queued or being answered)
        self._lane: deque[int] = deque()  # document ids of the questions not yet started, oldest first
        self._answering: int | None = None  # the document whose question the LLM is answering now
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="partnership-llm-opinions", daemon=True)

    def start(self) -> OpinionWorker:
        """Start the thread (in every mode: with ``llm_review`` off it only answers reviewers' questions)."""
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking work; pending questions are dropped, and an answer still being generated is dropped
        when it arrives (daemon thread)."""
        with self._lock:
            self._stop.set()
            self._lane.clear()
            self._asked.clear()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def request(self, document_id: int, actor: User) -> tuple[AskedOpinion, bool]:
        """Queue a reviewer's question about a document before the backlog; returns it and whether this call
        queued it (False: one is already pending for the document, and it is not queued twice).

        Raises :class:`AskRefused` when the lane is full, the reviewer already has ``ask_per_user``
        questions waiting, or the worker is stopping. The document's existence and prediction are the
        caller's to check; the answer is about the prediction current when the LLM starts.
        """
        with self._lock:
            if self._stop.is_set():
                raise AskRefused("The server is stopping: the LLM was not asked. Ask again in a minute.")
            pending = self._asked.get(document_id)
            if pending is not None:
                return pending, False
            mine = sum(1 for a in self._asked.values() if a.user_id == actor.id)
            if mine >= self.ask_per_user:
                raise AskRefused(
                    f"You already have {mine} questions waiting for the LLM: not asked. "
                    "Ask again when one of them is answered."
                )
            if len(self._asked) >= self.ask_queue_size:
                raise AskRefused(
                    f"The LLM already has {len(self._asked)} questions waiting: not asked. Ask again in a few minutes."
                )
            asked = AskedOpinion(document_id, actor.name, actor.id, utcnow(), actor)
            self._asked[document_id] = asked
            self._lane.append(document_id)
        self._wake.set()
        return asked, True

    def pending(self, document_id: int) -> tuple[AskedOpinion, int | None] | None:
        """The question pending for a document and how many are ahead of it (None: the LLM is answering
        it now); None when nothing is pending. The opinion is stored before a question stops being pending,
        so a caller that finds none here and then reads the prediction sees the answer."""
        with self._lock:
            asked = self._asked.get(document_id)
            if asked is None:
                return None
            if document_id == self._answering:
                return asked, None
            ahead = self._lane.index(document_id) if document_id in self._lane else 0
            return asked, ahead + (1 if self._answering is not None else 0)

    def _next_question(self) -> AskedOpinion | None:
        with self._lock:
            while self._lane:
                document_id = self._lane.popleft()
                if document_id in self._asked:
                    self._answering = document_id
                    return self._asked[document_id]
            return None

    def _answer(self, asked: AskedOpinion) -> None:
        """Answer one question on the document's current prediction; it stops being pending only after the
        opinion is stored (or failed), so the page never sees neither."""
        try:
            opinion = ask(
                self.settings, self.db, asked.document_id, asked.actor, asked_at=asked.stamp, cancelled=self._stop
            )
            if opinion is not None:
                self.answered += 1
            elif not self._stop.is_set():
                self.failed += 1
        except queries.NotFound:
            self.failed += 1
        except Exception:  # one question must not stop the worker
            self.failed += 1
            log.exception("LLM opinion asked for document %s failed", asked.document_id)
        finally:
            with self._lock:
                self._asked.pop(asked.document_id, None)
                self._answering = None

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
            asked = self._next_question()
            if asked is not None:  # reviewers' questions go before the backlog
                self._answer(asked)
                continue
            if self.mode == "off":
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
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
