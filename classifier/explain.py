"""Why the model decided: the sentences whose removal lowers the predicted class's probability most.

Sentence occlusion asks the model itself, so the evidence is faithful to the
prediction (unlike attention weights). Each document costs one extra forward
pass per sentence, batched; documents are capped at ``max_sentences``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Evidence", "occlusion_evidence", "split_sentences"]

_BOUNDARY = re.compile(r"(?<=[.!?;])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")


@dataclass(frozen=True)
class Evidence:
    """A sentence of the document and how much the predicted class's probability drops without it."""

    sentence: str
    start: int
    end: int
    weight: float


def split_sentences(text: str, min_chars: int = 3) -> list[tuple[int, int]]:
    """Character spans of the sentences (and lines) of ``text``."""
    spans, start = [], 0
    for match in _BOUNDARY.finditer(text):
        if match.start() - start >= min_chars:
            spans.append((start, match.start()))
        start = match.end()
    if len(text) - start >= min_chars:
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def occlusion_evidence(
    texts: list[str],
    predicted: list[int],
    probabilities: Callable[[list[str]], np.ndarray],
    top_k: int = 3,
    max_sentences: int = 24,
) -> list[list[Evidence]]:
    """Top ``top_k`` evidence sentences per text for the class index in ``predicted``.

    ``probabilities`` maps texts to an (n, classes) array; it is called once for
    all occluded variants of all texts.
    """
    variants: list[str] = []
    owners: list[tuple[int, tuple[int, int]]] = []
    for i, text in enumerate(texts):
        spans = split_sentences(text)
        if len(spans) < 2:
            continue
        if len(spans) > max_sentences:
            spans = sorted(sorted(spans, key=lambda s: s[1] - s[0], reverse=True)[:max_sentences])
        variants.append(text)
        owners.append((i, (-1, -1)))
        for start, end in spans:
            variants.append(text[:start] + text[end:])
            owners.append((i, (start, end)))
    evidence: list[list[Evidence]] = [[] for _ in texts]
    if not variants:
        return evidence
    probs = probabilities(variants)
    base: dict[int, float] = {}
    for (i, span), row in zip(owners, probs, strict=True):
        if span == (-1, -1):
            base[i] = float(row[predicted[i]])
            continue
        drop = base[i] - float(row[predicted[i]])
        evidence[i].append(Evidence(texts[i][span[0] : span[1]].strip(), span[0], span[1], round(drop, 4)))
    return [sorted(items, key=lambda e: -e.weight)[:top_k] for items in evidence]
