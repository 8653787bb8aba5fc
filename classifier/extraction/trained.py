"""The trained span model: where it is shipped, its labels, and how it takes the stock NER's place.

``training.train_spans`` fine-tunes en_core_web_sm's ``ner`` on the corpus's gold stakeholder spans
(labels ``PARTY_<TYPE>``) and writes a spaCy folder to ``spans/`` next to this module. The stock
``ner`` has its own tok2vec, so swapping it for the trained one leaves the tagger and parser as they
were; it runs the same networks as the stock one (measured: +0.07 of plain spaCy with the extra candidates).
Without the folder everything falls back to the rules.
"""

from __future__ import annotations

from pathlib import Path

import spacy
from spacy.language import Language

__all__ = ["LABEL_PREFIX", "SPANS_DIR", "has_party_labels", "has_spans_model", "label_type", "party_label",
           "use_trained_ner"]  # fmt: skip

SPANS_DIR = Path(__file__).with_name("spans")
LABEL_PREFIX = "PARTY_"


def party_label(stype: str) -> str:
    """The NER label of a stakeholder type: ``government`` -> ``PARTY_GOVERNMENT``."""
    return LABEL_PREFIX + stype.upper()


def label_type(label: str) -> str | None:
    """The stakeholder type of a party label, or None for any other label."""
    return label[len(LABEL_PREFIX) :].lower() if label.startswith(LABEL_PREFIX) else None


def has_spans_model(path: Path = SPANS_DIR) -> bool:
    """Whether a trained span model is at ``path`` (a spaCy folder with a ``ner``)."""
    return (path / "config.cfg").is_file() and (path / "ner").is_dir()


def has_party_labels(nlp: Language) -> bool:
    """Whether the pipeline's NER tags parties (the trained model is in place)."""
    if "ner" not in nlp.pipe_names:
        return False
    return any(str(label).startswith(LABEL_PREFIX) for label in nlp.get_pipe("ner").labels)


def use_trained_ner(nlp: Language, path: Path = SPANS_DIR) -> bool:
    """Put the trained ``ner`` from ``path`` in place of the pipeline's own (after the parser).

    Returns False, and leaves the pipeline alone, when there is no trained model at ``path``.
    """
    if not has_spans_model(path):
        return False
    spans = spacy.load(path)
    if "ner" in nlp.pipe_names:
        nlp.remove_pipe("ner")
    after = [n for n in ("parser", "tagger", "tok2vec") if n in nlp.pipe_names][:1]
    if "stakeholder_roles" in nlp.pipe_names:
        nlp.add_pipe("ner", source=spans, before="stakeholder_roles")
    elif after:
        nlp.add_pipe("ner", source=spans, after=after[0])
    else:
        nlp.add_pipe("ner", source=spans)
    return True
