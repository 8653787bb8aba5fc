"""The adviser: pre-labels and second opinions from an LLM backend, which never crash the caller.

- :meth:`Adviser.prelabel` — a label and a rationale for a document no reviewer has seen
  (a new city's first batch, where the fine-tuned classifier has nothing to go on);
- :meth:`Adviser.second_opinion` — the same beside a classifier :class:`~classifier.pipeline.Prediction`
  (typically one flagged ``needs_review``), with ``agrees_with_classifier`` set;
- :func:`review_opinion` — the one call the review page needs.

Two ways to get the label:

- ``generate``: the prompt asks for ``{"label", "rationale"}`` JSON, parsed into
  :class:`~classifier.llm.schema.LLMAnswer`; an invalid answer gets one retry with a
  stricter prompt, then the opinion is ``unknown``;
- ``score``: the five letters' log-probabilities as the answer's first token (one forward pass),
  optionally calibrated by the letters' scores on a content-free document; the rationale is
  then generated for the chosen label (plain text).

Every failure (backend error, timeout, invalid output twice, busy) becomes an ``unknown``
opinion whose ``error`` says why. An LLM label is advice: it never enters training data
unless a reviewer accepts it, and the retraining code only reads reviewed labels.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from classifier.llm.prompt import MAX_CHARS, label_messages, letter_messages, rationale_messages
from classifier.llm.registry import Backend, BackendError, BackendTimeout, create_backend
from classifier.llm.schema import MAX_RATIONALE, AnswerError, LLMOpinion, parse_answer
from classifier.taxonomy import LABELS

__all__ = ["METHODS", "Adviser", "adviser_for", "default_extractor", "review_opinion"]

METHODS = ("auto", "generate", "score")
RATIONALE_TOKENS = 96  # two sentences; the JSON answer of ``generate`` may use up to ``max_new_tokens``
Extractor = Callable[[list[str]], list[list[Any]]]
_DEFAULT = object()


def default_extractor() -> Extractor | None:
    """``classifier.extraction.extract`` when it imports (spaCy and its model installed), else None."""
    try:
        from classifier.extraction import extract
    except Exception:  # the extractor is optional: opinions then go without stakeholders
        return None
    return extract


def _text_of(doc: Any) -> str:
    if isinstance(doc, str):
        return doc
    text = getattr(doc, "text", None)
    if isinstance(text, str):
        return text
    if isinstance(doc, dict) and isinstance(doc.get("text"), str):
        return doc["text"]
    raise TypeError(f"a document is a string or has .text, not {type(doc).__name__}")


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


class Adviser:
    """Opinions from one backend, at most ``concurrency`` backend calls at a time, each within ``timeout`` s."""

    def __init__(
        self,
        backend: Backend,
        *,
        extractor: Extractor | None | object = _DEFAULT,
        method: str = "auto",
        calibrate: bool = True,
        rationale: bool = True,
        timeout: float = 60.0,
        concurrency: int = 2,
        max_new_tokens: int = 160,
        max_chars: int = MAX_CHARS,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        self.backend = backend
        self.extractor = default_extractor() if extractor is _DEFAULT else extractor
        self.method = backend.default_method if method == "auto" else method
        self.calibrate = calibrate
        self.rationale = rationale
        self.timeout = float(timeout)
        self.concurrency = max(1, int(concurrency))
        self.max_new_tokens = max_new_tokens
        self.max_chars = max_chars
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._prior: dict[str, float] | None = None
        self._prior_lock = threading.Lock()

    @classmethod
    def from_config(
        cls,
        backend: str = "local",
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        cache_dir: Any = None,
        threads: int | None = None,
        **options: Any,
    ) -> Adviser:
        """An adviser over a backend named ``local``/``openai`` (or a versioned name such as ``openai.v1``)."""
        family = backend.split(".")[0]
        if family == "openai":
            made = create_backend(
                backend, base_url=base_url, model=model, api_key=api_key, timeout=options.get("timeout")
            )
        else:
            made = create_backend(backend, cache_dir=cache_dir, threads=threads)
        return cls(made, **options)

    @classmethod
    def from_settings(cls, settings: Any, backend: str | None = None, **options: Any) -> Adviser:
        """From an object with the ``llm_*`` fields of ``api.settings.Settings`` (read here by attribute only)."""
        key = getattr(settings, "llm_api_key", None)
        if key is not None and hasattr(key, "get_secret_value"):
            key = key.get_secret_value()
        config = {
            "method": getattr(settings, "llm_method", "auto"),
            "timeout": getattr(settings, "llm_timeout", 60.0),
            "concurrency": getattr(settings, "llm_concurrency", 2),
            "max_new_tokens": getattr(settings, "llm_max_new_tokens", 160),
        } | options
        return cls.from_config(
            backend or getattr(settings, "llm_backend", "local"),
            base_url=getattr(settings, "llm_base_url", None),
            model=getattr(settings, "llm_model", None),
            api_key=key,
            cache_dir=_cache_dir(settings),
            threads=getattr(settings, "llm_threads", None),
            **config,
        )

    # -- the public calls -------------------------------------------------------------------------------

    def prelabel(self, doc: Any, stakeholders: Sequence[Any] | None = None) -> LLMOpinion:
        """A label and rationale for a document no reviewer has seen (advice only, never training data)."""
        return self._opinion(doc, stakeholders, None)

    def second_opinion(self, doc: Any, prediction: Any, stakeholders: Sequence[Any] | None = None) -> LLMOpinion:
        """The LLM's opinion beside a classifier prediction; reuses the prediction's extracted stakeholders."""
        if stakeholders is None:
            stakeholders = _get(prediction, "stakeholders") or None
        return self._opinion(doc, stakeholders, _get(prediction, "label"))

    def opinions(
        self,
        docs: Sequence[Any],
        predictions: Sequence[Any] | None = None,
        stakeholders: Sequence[Sequence[Any]] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[LLMOpinion]:
        """Opinions for a batch, in input order, ``concurrency`` at a time; one failure never stops the batch."""
        if predictions is not None and len(predictions) != len(docs):
            raise ValueError("predictions must match docs one to one")
        if stakeholders is None:
            stakeholders = self._extract([_safe_text(d) for d in docs])
        done = 0
        lock = threading.Lock()

        def run(i: int) -> LLMOpinion:
            nonlocal done
            label = _get(predictions[i], "label") if predictions is not None else None
            opinion = self._opinion(docs[i], stakeholders[i], label)
            if progress:
                with lock:
                    done += 1
                    progress(done, len(docs))
            return opinion

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(run, range(len(docs))))

    # -- internals -----------------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        try:
            return self.backend.model
        except Exception:  # an unreachable endpoint cannot name its model
            return "unknown"

    def _extract(self, texts: list[str]) -> list[list[Any]]:
        if self.extractor is None or not texts:
            return [[] for _ in texts]
        try:
            return [list(found) for found in self.extractor(texts)]
        except Exception:  # extraction helps the prompt; without it the LLM still reads the text
            return [[] for _ in texts]

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One backend call inside a concurrency slot; waiting for the slot counts against the timeout."""
        start = time.perf_counter()
        if not self._slots.acquire(timeout=self.timeout):
            raise BackendTimeout(f"all {self.concurrency} LLM slots busy for {self.timeout:g} s")
        try:
            remaining = max(self.timeout - (time.perf_counter() - start), 0.5)
            return fn(*args, timeout=remaining, **kwargs)
        finally:
            self._slots.release()

    def _opinion(self, doc: Any, stakeholders: Sequence[Any] | None, classifier_label: str | None) -> LLMOpinion:
        start = time.perf_counter()
        fields: dict[str, Any] = {"label": "unknown", "method": self.method, "classifier_label": classifier_label}
        try:
            text = _text_of(doc)
            if stakeholders is None:
                stakeholders = self._extract([text])[0]
            if self.method == "generate":
                fields |= self._generate(text, stakeholders)
            else:
                fields |= self._score(text, stakeholders)
        except (BackendError, AnswerError) as exc:
            fields["error"] = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # never crash the request or the batch that asked
            fields["error"] = f"unexpected {type(exc).__name__}: {exc}"
        label = fields["label"]
        return LLMOpinion(
            backend=self.backend.name,
            model=self.model_name,
            agrees_with_classifier=None if label == "unknown" or not classifier_label else label == classifier_label,
            latency_ms=int((time.perf_counter() - start) * 1000),
            **fields,
        )

    def _generate(self, text: str, stakeholders: Sequence[Any]) -> dict[str, Any]:
        """JSON answer; one stricter retry on invalid output; then unknown with both reasons."""
        problems = []
        for attempt, strict in enumerate((False, True), 1):
            messages = label_messages(text, stakeholders, strict=strict, max_chars=self.max_chars)
            reply = self._call(self.backend.chat, messages, max_tokens=self.max_new_tokens)
            try:
                answer = parse_answer(reply)
            except AnswerError as exc:
                problems.append(f"{exc} in {reply[:80]!r}")
                continue
            return {"label": answer.label, "rationale": answer.rationale[:MAX_RATIONALE], "attempts": attempt}
        return {"attempts": 2, "error": "invalid answer twice: " + " | ".join(problems)}

    def prior(self) -> dict[str, float]:
        """The letters' log-probabilities for a content-free document (contextual calibration), computed once."""
        with self._prior_lock:
            if self._prior is None:
                messages = letter_messages("N/A", [], max_chars=self.max_chars)
                self._prior = self._call(self.backend.score, messages, LABELS)
            return self._prior

    def _score(self, text: str, stakeholders: Sequence[Any]) -> dict[str, Any]:
        """Letter scoring, then (optionally) a generated rationale for the chosen letter."""
        messages = letter_messages(text, stakeholders, max_chars=self.max_chars)
        scores = self._call(self.backend.score, messages, LABELS)
        if self.calibrate:
            prior = self.prior()
            scores = {k: v - prior[k] for k, v in scores.items()}
        top = max(scores.values())
        weights = {k: math.exp(v - top) for k, v in scores.items()}
        total = sum(weights.values())
        probabilities = {k: round(w / total, 4) for k, w in weights.items()}
        label = max(probabilities, key=probabilities.__getitem__)
        out: dict[str, Any] = {"label": label, "probabilities": probabilities, "attempts": 1}
        if self.rationale:
            try:
                reply = self._call(
                    self.backend.chat,
                    rationale_messages(text, stakeholders, label, max_chars=self.max_chars),
                    max_tokens=min(self.max_new_tokens, RATIONALE_TOKENS),
                )
                out["rationale"] = " ".join(reply.split())[:MAX_RATIONALE]
                if len(out["rationale"]) < 12:
                    out["error"] = f"rationale too short: {reply!r}"
            except BackendError as exc:  # the label stands; say why the rationale is missing
                out["error"] = f"rationale: {type(exc).__name__}: {exc}"
        return out


def _safe_text(doc: Any) -> str:
    try:
        return _text_of(doc)
    except TypeError:
        return ""


def _cache_dir(settings: Any) -> Any:
    """``llm_cache_dir``, else ``var_dir/llm-cache`` when the settings have a ``var_dir``."""
    folder = getattr(settings, "llm_cache_dir", None)
    if folder is None and getattr(settings, "var_dir", None) is not None:
        folder = settings.var_dir / "llm-cache"
    return folder


def review_opinion(doc: Any, prediction: Any, adviser: Adviser) -> LLMOpinion:
    """What the review page shows beside the classifier's prediction: the LLM's label, rationale and agreement.

    Never raises; a failing backend gives ``label="unknown"`` with ``error`` set. The opinion is
    for the reviewer: it is not a label and never becomes training data unless a reviewer accepts it.
    """
    return adviser.second_opinion(doc, prediction)


@lru_cache(maxsize=4)
def _cached_adviser(
    backend: str, base_url, model, api_key, cache_dir, threads, method, timeout, concurrency, tokens
) -> Adviser:
    return Adviser.from_config(
        backend,
        base_url=base_url,
        model=model,
        api_key=api_key,
        cache_dir=cache_dir,
        threads=threads,
        method=method,
        timeout=timeout,
        concurrency=concurrency,
        max_new_tokens=tokens,
    )


def adviser_for(settings: Any) -> Adviser:
    """One adviser per configuration per process (so one semaphore and one loaded model), from the settings."""
    key = getattr(settings, "llm_api_key", None)
    if key is not None and hasattr(key, "get_secret_value"):
        key = key.get_secret_value()
    return _cached_adviser(
        getattr(settings, "llm_backend", "local"),
        getattr(settings, "llm_base_url", None),
        getattr(settings, "llm_model", None),
        key,
        _cache_dir(settings),
        getattr(settings, "llm_threads", None),
        getattr(settings, "llm_method", "auto"),
        getattr(settings, "llm_timeout", 60.0),
        getattr(settings, "llm_concurrency", 2),
        getattr(settings, "llm_max_new_tokens", 160),
    )
