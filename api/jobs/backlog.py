"""Submissions stored while no model served (status ``received``) get classified once a model serves.

``ModelHolder`` calls :meth:`ReceivedBacklog.kick` whenever a version starts
serving (startup, promote, rollback, a retraining job that promotes). The sweep
runs on its own thread, a chunk at a time, and stores a prediction only for a
document that is still ``received`` and has none, so a sweep that overlaps a
live submission's own classification does not classify it twice. Documents of
batch uploads are left to their batch.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from api.deps import AppState
from api.store import queries
from api.store.tables import Document
from classifier.documents import SourceDocument

__all__ = ["ReceivedBacklog"]

log = logging.getLogger(__name__)


class ReceivedBacklog:
    """Classifies ``received`` single submissions in the background, one sweep at a time."""

    def __init__(self, state: AppState, chunk: int = 16) -> None:
        self.state = state
        self.chunk = max(1, chunk)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="partnership-backlog")
        self._lock = threading.Lock()
        self._queued: Future | None = None
        self._stop = threading.Event()

    def kick(self, *_: object) -> Future | None:
        """Start a sweep (several kicks while one waits to start make one sweep)."""
        with self._lock:
            if self._stop.is_set():
                return None
            if self._queued is None or self._queued.done() or self._queued.running():
                self._queued = self._executor.submit(self.sweep)
            return self._queued

    def sweep(self) -> int:
        """Classify every received single submission; returns how many got a prediction."""
        after, classified = 0, 0
        while not self._stop.is_set():
            pipeline = self.state.holder.pipeline
            if pipeline is None:
                return classified
            with self.state.db.session() as session:
                rows = [
                    (d.id, SourceDocument(str(d.id), d.text, d.name, d.format))
                    for d in queries.received_documents(session, after_id=after, limit=self.chunk)
                ]
            if not rows:
                break
            after = rows[-1][0]
            try:
                predictions = pipeline.predict([source for _, source in rows])
            except Exception:  # leave them received; the next model start tries again
                log.exception("could not classify received documents %s..%s", rows[0][0], after)
                continue
            stored = []
            with self.state.db.session() as session:
                for (document_id, _), prediction in zip(rows, predictions, strict=True):
                    document = session.get(Document, document_id, with_for_update=True)
                    if document is None or document.status != "received" or document.prediction_id is not None:
                        continue
                    payload = prediction.model_dump()
                    queries.save_prediction(session, document_id, payload, explained=self.state.holder.explain)
                    stored.append(prediction)
            classified += len(stored)
            for prediction in stored:
                self.state.metrics.observe_prediction(prediction.label, prediction.model_version)
        if classified:
            log.info("classified %d documents that were waiting for a model", classified)
        return classified

    def shutdown(self) -> None:
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
