"""The prompts: the taxonomy's own definitions, the extracted stakeholders and the document.

Three prompts share one description of the five models (built from
:data:`classifier.taxonomy.MODELS`, never restated here):

- :func:`label_messages` asks for a JSON answer ``{"label": ..., "rationale": ...}``;
  ``strict=True`` is the retry after an invalid answer (shorter, with the exact shape);
- :func:`letter_messages` asks for one letter, for scoring the five letters' log-probabilities;
- :func:`rationale_messages` gives a chosen label and asks why, in words a reviewer can check.

Prompts were developed on the train and validation splits only, never on test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from classifier.taxonomy import LABELS, MODELS, label_name

__all__ = [
    "MAX_CHARS",
    "MAX_STAKEHOLDERS",
    "PROMPT_VERSION",
    "format_stakeholders",
    "label_messages",
    "letter_messages",
    "rationale_messages",
    "taxonomy_text",
]

PROMPT_VERSION = "prompt.v1"
MAX_CHARS = 2000  # about 450 tokens of document: enough for the decisive facts, affordable on CPU
MAX_STAKEHOLDERS = 10

Message = dict[str, str]


def taxonomy_text(*, decisive: bool = True) -> str:
    """``A. City-Led Model: <definition> Decisive: <facts>`` for the five models, one paragraph each."""
    lines = []
    for m in MODELS:
        line = f"{m.label}. {m.name}: {m.definition}"
        if decisive:
            line += f" Decisive: {m.decisive_facts}"
        lines.append(line)
    return "\n".join(lines)


def _field(stakeholder: Any, key: str) -> str:
    if isinstance(stakeholder, Mapping):
        return str(stakeholder.get(key) or "")
    return str(getattr(stakeholder, key, "") or "")


def format_stakeholders(stakeholders: Sequence[Any] | None) -> str:
    """``- Name (type, role)`` lines for extracted stakeholders (pydantic objects or dicts with name or text)."""
    lines = []
    for s in list(stakeholders or [])[:MAX_STAKEHOLDERS]:
        name = _field(s, "name") or _field(s, "text")
        if name:
            lines.append(f"- {name} ({_field(s, 'type') or '?'}, {_field(s, 'role') or '?'})")
    return "\n".join(lines) if lines else "- none extracted"


def _document(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    if len(text) > max_chars:
        cut = text[:max_chars]
        text = cut[: cut.rfind(" ")] + " [...]" if " " in cut else cut
    return text


def _user(text: str, stakeholders: Sequence[Any] | None, question: str, max_chars: int) -> str:
    return (
        f"Document:\n{_document(text, max_chars)}\n\n"
        f"Stakeholders found in the document (name, type, role):\n{format_stakeholders(stakeholders)}\n\n"
        f"{question}"
    )


_SYSTEM = (
    "You classify smart-city project documents by how the public and private sides work together. "
    "The five partnership models:\n{taxonomy}\n"
)

_JSON = (
    'Answer with one JSON object: {"label": "<one letter: A, B, C, D or E>", "rationale": "<one or two '
    'sentences naming the stakeholders and the facts of the document you relied on>"}'
)

_STRICT = (
    "Your reply must be exactly one JSON object on one line and nothing else: no text before or after it, "
    'no code fence. Keys: "label" (one letter of A, B, C, D, E) and "rationale" (one sentence). Example of '
    'the shape: {"label": "A", "rationale": "The city council designs and pays for it; Acme Ltd only supplies '
    'the equipment."}'
)


def label_messages(
    text: str, stakeholders: Sequence[Any] | None = None, *, strict: bool = False, max_chars: int = MAX_CHARS
) -> list[Message]:
    """Chat messages asking for the JSON answer; ``strict`` is the one retry after an invalid answer."""
    system = _SYSTEM.format(taxonomy=taxonomy_text()) + (_STRICT if strict else _JSON)
    question = "Which partnership model fits this document best? Reply with the JSON object only."
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": _user(text, stakeholders, question, max_chars)},
    ]


def letter_messages(
    text: str, stakeholders: Sequence[Any] | None = None, *, max_chars: int = MAX_CHARS
) -> list[Message]:
    """Chat messages whose answer's first token is scored over the five letters."""
    system = _SYSTEM.format(taxonomy=taxonomy_text()) + "Answer with the letter of the model only."
    question = f"Which partnership model fits this document best? Answer with one letter: {', '.join(LABELS)}."
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": _user(text, stakeholders, question, max_chars)},
    ]


def rationale_messages(
    text: str, stakeholders: Sequence[Any] | None, label: str, *, max_chars: int = MAX_CHARS
) -> list[Message]:
    """Chat messages asking why ``label`` fits, naming stakeholders and facts (plain text, two sentences).

    The model's definition is left out on purpose: on validation, SmolLM2 copied it back verbatim
    instead of pointing at the document.
    """
    system = (
        "You explain to a reviewer why a smart-city project document was given a partnership model. "
        "Name the stakeholders and the facts from the document; do not invent any."
    )
    question = (
        f"The document was classified as {label}, {label_name(label)}. In one or two short sentences, "
        "name the stakeholders and the facts of the document (who leads, who pays, who owns or runs it) "
        "that support this."
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": _user(text, stakeholders, question, max_chars)},
    ]
