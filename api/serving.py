"""The serving model behind one reference, swapped without a restart, and a micro-batcher in front of it.

``ModelHolder.swap`` loads a version fully (and warms it up) before replacing
the reference under a lock, so requests in flight finish on the model they
started with and the next ones see the new model; nothing fails in between.
``Batcher`` gathers concurrent submissions into one forward pass: one
inference at a time uses both cores better than many competing threads.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from classifier.documents import SourceDocument
from classifier.pipeline import Pipeline, Prediction
from training.registry import ModelRegistry, RegistryError

__all__ = ["Batcher", "ModelHolder", "NoModelError", "extraction_available"]

log = logging.getLogger(__name__)
WARM_UP = "The city council funds and runs the new bus lanes. A vendor supplies the sensors."


class NoModelError(RuntimeError):
    """No model version is serving yet."""


def extraction_available() -> bool:
    """True when the stakeholder extractor (``classifier.extraction``) imports on this machine."""
    try:
        import classifier.extraction  # noqa: F401
    except Exception:  # missing module or a spaCy model that fails to load: serve without extraction
        return False
    return True


class ModelHolder:
    """The serving :class:`Pipeline` and the registry it comes from."""

    def __init__(
        self,
        models_dir: Path,
        *,
        extract: bool | None = None,
        int8: bool = False,
        explain: bool = False,
        backend: str = "torch",
    ):
        self.registry = ModelRegistry(models_dir)
        self.extract = extraction_available() if extract is None else extract
        self.int8 = int8
        self.backend = backend
        self.explain = explain
        self._pipeline: Pipeline | None = None
        self._reference = threading.Lock()  # held for a pointer swap only
        self._changes = threading.Lock()  # one promote / rollback / load at a time
        self._explainers: dict[str, Pipeline] = {}
        self._listeners: list[Callable[[str], None]] = []

    def add_listener(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(version)`` whenever a version starts serving (startup, promote, rollback, retrain).

        The service uses it to classify what waited for a model; callbacks must only schedule work.
        """
        self._listeners.append(callback)

    def _notify(self, version: str) -> None:
        for callback in list(self._listeners):
            try:
                callback(version)
            except Exception:  # a listener must never undo a swap that already happened
                log.exception("serving listener failed for %s", version)

    @property
    def pipeline(self) -> Pipeline | None:
        with self._reference:
            return self._pipeline

    @property
    def version(self) -> str | None:
        pipeline = self.pipeline
        return pipeline.model.version if pipeline else None

    def _load(self, version: str) -> Pipeline:
        pipeline = Pipeline.load(
            self.registry.path(version),
            int8=self.int8,
            extract=self.extract,
            explain=self.explain,
            backend=self.backend,
        )
        pipeline.predict([WARM_UP])  # first-call costs are paid here, not by a request
        return pipeline

    def _install(self, pipeline: Pipeline) -> None:
        with self._reference:
            self._pipeline = pipeline

    def load_serving(self) -> str | None:
        """Serve the registry's serving version (at startup); None when there is none yet."""
        with self._changes:
            version = self.registry.serving()
            if version:
                self._install(self._load(version))
        if version:
            self._notify(version)
        return version

    def promote(self, version: str, reason: str) -> None:
        """Load ``version`` fully, then record it as serving and swap it in."""
        with self._changes:
            pipeline = self._load(version)
            self.registry.promote(version, reason)
            self._install(pipeline)
        self._notify(version)

    def rollback(self, reason: str) -> str:
        """Serve the previously promoted version again (undone if it fails to load)."""
        with self._changes:
            current = self.registry.serving()
            version = self.registry.rollback(reason)
            try:
                pipeline = self._load(version)
            except Exception:
                if current:
                    self.registry.promote(current, f"automatic: rollback target {version} failed to load")
                raise
            self._install(pipeline)
        self._notify(version)
        return version

    def reload(self) -> str | None:
        """Swap to whatever the registry now says serves (after a retraining job promoted a version)."""
        with self._changes:
            version = self.registry.serving()
            swapped = bool(version and version != self.version)
            if swapped:
                self._install(self._load(version))
        if swapped:
            self._notify(version)
        return version

    def evidence(self, model_version: str, document: SourceDocument) -> list[dict[str, Any]] | None:
        """Evidence sentences for a stored prediction, by the model version that made it (None if it is gone)."""
        pipeline = self.pipeline
        if pipeline is None or pipeline.model.version != model_version:
            try:
                cached = self._explainers.get(model_version)
                if cached is None:
                    folder = self.registry.path(model_version)
                    cached = Pipeline.load(
                        folder, int8=self.int8, extract=self.extract, explain=True, backend=self.backend
                    )
                    self._explainers = {model_version: cached}  # keep one: old versions are rarely asked twice
                pipeline = cached
            except (RegistryError, OSError, ValueError):
                return None
        explainer = Pipeline(pipeline.model, pipeline.extractor, explain=True)
        [prediction] = explainer.predict([document])
        return [e.model_dump() for e in prediction.evidence]


class Batcher:
    """Classifies submissions on one worker thread, up to ``max_batch`` at a time."""

    def __init__(self, holder: ModelHolder, max_batch: int = 16) -> None:
        self.holder = holder
        self.max_batch = max(1, max_batch)
        self._queue: queue.Queue[tuple[SourceDocument, Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="partnership-batcher", daemon=True)
        self._thread.start()

    def predict(self, document: SourceDocument, timeout: float = 120.0) -> Prediction:
        """The prediction for one document (blocks the calling worker thread, not the event loop)."""
        future: Future = Future()
        self._queue.put((document, future))
        return future.result(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._classify(batch)
            if stop:
                return

    def _classify(self, batch: list[tuple[SourceDocument, Future]]) -> None:
        pipeline = self.holder.pipeline  # the model at the start of the batch serves the whole batch
        if pipeline is None:
            for _, future in batch:
                future.set_exception(NoModelError("no model is serving yet: train or promote one"))
            return
        try:
            predictions = pipeline.predict([document for document, _ in batch])
        except Exception as exc:  # one bad document must neither kill the worker nor fail its batch-mates
            if len(batch) > 1:
                for one in batch:
                    self._classify([one])
                return
            log.exception("classification failed")
            batch[0][1].set_exception(exc)
            return
        for (_, future), prediction in zip(batch, predictions, strict=True):
            future.set_result(prediction)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
