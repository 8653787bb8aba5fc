"""Document in, prediction out: extraction → model → calibration → review flag → evidence, batched."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from classifier.calibration import softmax
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

    def __init__(self, model: PartnershipModel, extractor: Extractor | None = None, *, explain: bool = True) -> None:
        self.model = model
        self.extractor = extractor
        self.explain = explain

    @classmethod
    def load(cls, folder: Path, *, int8: bool = False, extract: bool = True, explain: bool = True) -> Pipeline:
        """A pipeline over the model version in ``folder``, with the spaCy stakeholder extractor if asked."""
        extractor = None
        if extract:
            from classifier.extraction import extract as extractor
        return cls(PartnershipModel.load(folder, int8=int8), extractor, explain=explain)

    def _probabilities(self, texts: list[str]) -> np.ndarray:
        logits, _ = self.model.encode(texts)
        return softmax(logits, self.model.settings.temperature)

    def predict(self, documents: Sequence[SourceDocument | str]) -> list[Prediction]:
        """Predictions in input order; strings get ids ``doc-1``, ``doc-2``, ..."""
        docs = [
            d if isinstance(d, SourceDocument) else SourceDocument(f"doc-{i}", d, "text", "txt")
            for i, d in enumerate(documents, 1)
        ]
        if not docs:
            return []
        texts = [d.text for d in docs]
        stakeholders = self.extractor(texts) if self.extractor else [[] for _ in docs]
        facts = [[_as_dict(s) for s in found] for found in stakeholders]
        inputs = [format_input(t, f, self.model.settings.input_format) for t, f in zip(texts, facts, strict=True)]
        outputs = self.model.predict(inputs)
        labels = self.model.settings.labels
        evidence = [[] for _ in docs]
        if self.explain:
            predicted = [labels.index(o.label) for o in outputs]
            evidence = occlusion_evidence(inputs, predicted, self._probabilities)
        threshold = self.model.settings.review_threshold
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
