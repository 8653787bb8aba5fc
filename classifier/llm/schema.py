"""What the LLM must answer and what callers get back, as validated pydantic models.

``LLMAnswer`` is the structured output the prompt asks for (parsed from the
model's text by :func:`parse_answer`); ``LLMOpinion`` is what the adviser
returns to the review page, bulk jobs and evaluation. An opinion is advice
for a reviewer: its label never enters training data unless a reviewer accepts it.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from classifier.taxonomy import LABELS, MODELS

__all__ = ["AnswerError", "LLMAnswer", "LLMOpinion", "OpinionLabel", "parse_answer"]

OpinionLabel = Literal["A", "B", "C", "D", "E", "unknown"]
MAX_RATIONALE = 800

_BY_NAME = {m.name.lower(): m.label for m in MODELS} | {m.name.lower().removesuffix(" model"): m.label for m in MODELS}


class AnswerError(ValueError):
    """The model's text is not a valid answer (no JSON object, wrong fields, unknown label)."""


def _normalize_label(value: object) -> object:
    """``"D"``, ``"d"``, ``"D)"``, ``"Model D"``, ``"Public-Private SPC"`` → ``"D"``; anything else unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip().strip(".:)(").strip()
    if text.upper() in LABELS:
        return text.upper()
    match = re.fullmatch(r"(?:model|label|option)\s*([A-Ea-e])", text, flags=re.IGNORECASE)
    if match:
        return match.group(1).upper()
    match = re.fullmatch(r"([A-Ea-e])\s*[-:)]\s*(.+)", text)
    if match and _BY_NAME.get(match.group(2).strip().lower()) in (None, match.group(1).upper()):
        return match.group(1).upper()
    return _BY_NAME.get(text.lower(), value)


class LLMAnswer(BaseModel):
    """The JSON object the prompt asks for: one of the five letters and a short rationale."""

    model_config = ConfigDict(extra="ignore")
    label: Literal["A", "B", "C", "D", "E"]
    rationale: str = Field(min_length=12, max_length=4000)

    @field_validator("label", mode="before")
    @classmethod
    def _letter(cls, value: object) -> object:
        return _normalize_label(value)

    @field_validator("rationale", mode="before")
    @classmethod
    def _clean(cls, value: object) -> object:
        if isinstance(value, list):  # some models answer a list of reasons
            value = " ".join(str(v) for v in value)
        return " ".join(value.split()) if isinstance(value, str) else value


class LLMOpinion(BaseModel):
    """The LLM's advice on one document, shown beside the classifier's prediction.

    ``label`` is ``"unknown"`` whenever the backend failed, timed out or answered
    something invalid twice; ``error`` then says why. ``agrees_with_classifier`` is
    None when there is no classifier prediction to compare with or the label is
    unknown. Never training data by itself: only a reviewer's accepted label is.
    """

    label: OpinionLabel
    rationale: str = ""
    backend: str
    model: str
    agrees_with_classifier: bool | None = None
    latency_ms: int = Field(ge=0)
    classifier_label: str | None = Field(None, description="The prediction this opinion was compared with.")
    method: Literal["generate", "score"] = Field("generate", description="JSON generation or letter scoring.")
    probabilities: dict[str, float] | None = Field(None, description="Letter probabilities (scoring only).")
    attempts: int = Field(0, ge=0, description="Backend calls made for the label (a retry counts).")
    error: str | None = Field(None, description="Why the label is unknown (or why the rationale is missing).")

    @property
    def known(self) -> bool:
        return self.label != "unknown"


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", flags=re.DOTALL | re.IGNORECASE)


def _json_objects(text: str) -> list[str]:
    """Candidate ``{...}`` substrings: fenced blocks first, then every balanced object in the text."""
    candidates = [m.group(1).strip() for m in _FENCE.finditer(text)]
    depth, start, in_string, escaped = 0, -1, False, False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"' and depth > 0:
            in_string = True
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                candidates.append(text[start : i + 1])
    return candidates


def parse_answer(text: str) -> LLMAnswer:
    """The first JSON object in ``text`` that validates as :class:`LLMAnswer`; :class:`AnswerError` otherwise.

    Tolerates code fences, prose around the object and letter spellings such as
    ``"Model D"`` or the model's name; it does not guess a label from free prose.
    """
    if not text or not text.strip():
        raise AnswerError("empty answer")
    candidates = _json_objects(text)
    if not candidates:
        raise AnswerError("no JSON object in the answer")
    problems = []
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError as exc:
            problems.append(f"not JSON ({exc.msg})")
            continue
        if not isinstance(data, dict):
            problems.append("not an object")
            continue
        data = {str(k).lower().strip(): v for k, v in data.items()}
        try:
            return LLMAnswer.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            problems.append(f"{'.'.join(str(p) for p in first['loc']) or 'answer'}: {first['msg']}")
    raise AnswerError("; ".join(dict.fromkeys(problems)))
