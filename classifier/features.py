"""The model's input: the document text, optionally after a short prefix of extracted stakeholder facts.

Training and prediction must format inputs identically, so both call
:func:`format_input` with the version's ``input_format``. The prefix is
placed first so that truncation cuts the end of the text, never the facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["INPUT_FORMATS", "facts_prefix", "format_input"]

INPUT_FORMATS = ("text", "facts+text")
MAX_FACTS = 8


def facts_prefix(stakeholders: Sequence[Mapping[str, Any]]) -> str:
    """``"lead: government; investor: private, government | "`` — roles and types, not names.

    Names are left out on purpose: the model should learn who does what, not
    which organization names co-occur with which label.
    """
    by_role: dict[str, list[str]] = {}
    for s in list(stakeholders)[:MAX_FACTS]:
        types = by_role.setdefault(str(s.get("role", "")), [])
        if s.get("type") not in types:
            types.append(str(s.get("type", "")))
    if not by_role:
        return "no stakeholders | "
    return "; ".join(f"{role}: {', '.join(types)}" for role, types in sorted(by_role.items())) + " | "


def format_input(text: str, stakeholders: Sequence[Mapping[str, Any]] | None, input_format: str = "text") -> str:
    """The string the encoder sees for one document."""
    if input_format == "text":
        return text
    if input_format == "facts+text":
        return facts_prefix(stakeholders or []) + text
    raise ValueError(f"unknown input format {input_format!r}; one of {INPUT_FORMATS}")
