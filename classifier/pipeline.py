"""Document in, prediction out: extraction → model → calibration → review flag → evidence, batched."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from classifier.documents import SourceDocument
from classifier.explain import occlusion_evidence
from classifier.features import format_input
from classifier.model import PartnershipModel
from classifier.taxonomy import Label, label_name

__all__ = ["EvidenceOut", "Pipeline", "Prediction"]

Extractor = Callable[[list[str]], list[list[Any]]]


class EvidenceOut(BaseModel):
    """An evidence sentence with its offsets and the probability drop when it is removed."""

    sentence: str
    start: int
    end: int
    weight: float


class Prediction(BaseModel):
    """What `partnership classify`, the API and bulk jobs return for one document."""

    id: str
    label: Label
    label_name: str
    confidence: float = Field(ge=0.0, le=1.0)
    probabilities: dict[str, float]
    needs_review: bool
    stakeholders: list[dict[str, Any]] = Field(default_factory=list)
    evidence: list[EvidenceOut] = Field(default_factory=list)
    testbed: bool | None = None
    testbed_probability: float | None = None
    international: str | None = None
    model_version: str


def _as_dict(stakeholder: Any) -> dict[str, Any]:
    return stakeholder.model_dump() if hasattr(stakeholder, "model_dump") else dict(stakeholder)


class Pipeline:
    """The whole prediction path for a batch of documents; the model is loaded once and reused."""

    def __init__(
        self,
        model: PartnershipModel,
        extractor: Extractor | None = None,
        *,
        explain: bool | str = True,
        overlap: bool = False,
        chunk_size: int = 16,
    ) -> None:
        """``explain``: True/"all" for evidence on every document, "review" only where ``needs_review``
        (bulk jobs: occlusion costs one forward pass per sentence), False/"none" never.

        ``overlap``: run stakeholder extraction in a second thread, ``chunk_size`` documents at a time,
        while the model classifies. spaCy is single-threaded and the ONNX backend releases the GIL for a
        whole batch, so on 2 cores the two stages overlap (load the model with ``threads=1``).
        Results are the same as without it."""
        self.model = model
        self.extractor = extractor
        self.explain = {True: "all", False: "none"}.get(explain, explain)
        if self.explain not in ("all", "review", "none"):
            raise ValueError(f"explain must be all, review or none, not {explain!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
        self.chunk_size = chunk_size
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="extract") if overlap and extractor else None

    @property
    def overlap(self) -> bool:
        return self._pool is not None

    @classmethod
    def load(
        cls,
        folder: Path,
        *,
        int8: bool = False,
        extract: bool = True,
        explain: bool | str = True,
        backend: str = "torch",
        threads: int | None = None,
        overlap: bool = False,
    ) -> Pipeline:
        """A pipeline over the model version in ``folder``, with the spaCy stakeholder extractor if asked.

        ``backend``/``threads``: see :meth:`PartnershipModel.load`; ``overlap``: see :meth:`__init__`.
        """
        extractor = None
        if extract:
            from classifier.extraction import extract as extractor
        model = PartnershipModel.load(folder, int8=int8, backend=backend, threads=threads)
        return cls(model, extractor, explain=explain, overlap=overlap)

    def _extract_and_classify(self, texts: list[str]) -> tuple[list[list[dict[str, Any]]], list[str], list]:
        """Stakeholder facts, model inputs and model outputs for ``texts``, overlapping the stages if asked."""
        input_format = self.model.settings.input_format
        if not self.extractor:
            facts: list[list[dict[str, Any]]] = [[] for _ in texts]
        elif not self.overlap:
            facts = [[_as_dict(s) for s in found] for found in self.extractor(texts)]
        else:
            bounds = [(i, min(i + self.chunk_size, len(texts))) for i in range(0, len(texts), self.chunk_size)]
            futures = [self._pool.submit(self.extractor, texts[a:b]) for a, b in bounds]
            if input_format == "text":  # the model does not need the facts: classify all while they are extracted
                outputs = self.model.predict(texts)
                facts = [[_as_dict(s) for s in found] for f in futures for found in f.result()]
                return facts, texts, outputs
            facts, inputs, outputs = [], [], []
            for future in futures:  # the next chunk is extracted while this one is classified
                chunk = [[_as_dict(s) for s in found] for found in future.result()]
                start = len(facts)
                facts += chunk
                chunk_texts = texts[start : start + len(chunk)]
                chunk_inputs = [format_input(t, f, input_format) for t, f in zip(chunk_texts, chunk, strict=True)]
                inputs += chunk_inputs
                outputs += self.model.predict(chunk_inputs)
            return facts, inputs, outputs
        inputs = [format_input(t, f, input_format) for t, f in zip(texts, facts, strict=True)]
        return facts, inputs, self.model.predict(inputs)

    def _probabilities(self, texts: list[str]) -> np.ndarray:
        return self.model.probabilities(texts)

    def predict(self, documents: Sequence[SourceDocument | str]) -> list[Prediction]:
        """Predictions in input order; strings get ids ``doc-1``, ``doc-2``, ..."""
        docs = [
            d if isinstance(d, SourceDocument) else SourceDocument(f"doc-{i}", d, "text", "txt")
            for i, d in enumerate(documents, 1)
        ]
        if not docs:
            return []
        texts = [d.text for d in docs]
        facts, inputs, outputs = self._extract_and_classify(texts)
        labels = self.model.settings.labels
        threshold = self.model.settings.review_threshold
        evidence: list[list] = [[] for _ in docs]
        chosen = [
            i
            for i, o in enumerate(outputs)
            if self.explain == "all" or (self.explain == "review" and o.confidence < threshold)
        ]
        if chosen:
            found = occlusion_evidence(
                [inputs[i] for i in chosen], [labels.index(outputs[i].label) for i in chosen], self._probabilities
            )
            for i, items in zip(chosen, found, strict=True):
                evidence[i] = items
        predictions = []
        for doc, out, found, ev, model_input in zip(docs, outputs, facts, evidence, inputs, strict=True):
            shift = len(model_input) - len(doc.text)  # evidence offsets refer to the original text
            testbed_p = out.testbed.get("yes")
            predictions.append(
                Prediction(
                    id=doc.id,
                    label=out.label,
                    label_name=label_name(out.label),
                    confidence=round(out.confidence, 4),
                    probabilities={k: round(v, 4) for k, v in out.probabilities.items()},
                    needs_review=out.confidence < threshold,
                    stakeholders=found,
                    evidence=[
                        EvidenceOut(sentence=e.sentence, start=e.start - shift, end=e.end - shift, weight=e.weight)
                        for e in ev
                        if e.start >= shift
                    ],
                    testbed=None if testbed_p is None else testbed_p >= 0.5,
                    testbed_probability=None if testbed_p is None else round(testbed_p, 4),
                    international=max(out.international, key=out.international.get) if out.international else None,
                    model_version=self.model.version,
                )
            )
        return predictions
