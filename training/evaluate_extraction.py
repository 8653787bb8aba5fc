"""Quality of stakeholder extraction against the corpus's gold spans: precision, recall, type and role accuracy.

Matching rule (documented in docs/extraction.md). A predicted stakeholder
matches a gold one when the gold text, normalized, equals the normalized text
of the predicted stakeholder's name or of any of its mentions (its aliases).
Normalization (``classifier.extraction.normalize_name``): lower case, accents
and punctuation removed, a leading article or possessive pronoun dropped
("the", "a", "its"...), possessive "'s" dropped. Matching is one-to-one per
document: each gold stakeholder and each prediction is used at most once,
predictions whose own name matches first, then alias matches, in text order.

Precision = matched predictions / predictions; recall = matched gold / gold,
over documents that carry gold spans. Type and role accuracy are computed on
matched pairs only. Run::

    python -m training.evaluate_extraction --split validation
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from classifier.extraction.aliases import normalize_name
from classifier.taxonomy import ROLES, STAKEHOLDER_TYPES
from training.corpus import CORPUS_DIR, CorpusRecord, SpanAnnotation, load_corpus
from training.splits import SPLITS, SPLITS_FILE, assign_splits, load_splits

__all__ = [
    "ClassScores",
    "ExtractionReport",
    "MatchedPair",
    "evaluate_predictions",
    "format_report",
    "match_document",
    "run_evaluation",
]

TARGETS = {"precision": 0.85, "recall": 0.85, "type_accuracy": 0.85, "role_accuracy": 0.75}


class MatchedPair(BaseModel):
    """A gold stakeholder and the prediction matched to it."""

    doc_id: str
    gold: str
    predicted: str
    gold_type: str
    predicted_type: str
    gold_role: str
    predicted_role: str


class ClassScores(BaseModel):
    """Per type or per role: gold count, how many were found, and how many of those got the class right."""

    gold: int = 0
    found: int = 0
    correct: int = 0
    predicted: int = 0  # matched predictions that carry this class

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.found if self.found else 0.0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0


class ExtractionReport(BaseModel):
    """Everything the evaluation measured on one set of documents."""

    where: str
    documents: int
    gold: int
    predicted: int
    matched: int
    type_correct: int
    role_correct: int
    per_type: dict[str, ClassScores] = Field(default_factory=dict)
    per_role: dict[str, ClassScores] = Field(default_factory=dict)
    role_confusion: dict[str, dict[str, int]] = Field(default_factory=dict)
    pairs: list[MatchedPair] = Field(default_factory=list)
    missed: list[tuple[str, str]] = Field(default_factory=list)  # (doc id, gold text)
    spurious: list[tuple[str, str]] = Field(default_factory=list)  # (doc id, predicted name)

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def type_accuracy(self) -> float:
        return self.type_correct / self.matched if self.matched else 0.0

    @property
    def role_accuracy(self) -> float:
        return self.role_correct / self.matched if self.matched else 0.0

    def figures(self) -> dict[str, float]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "type_accuracy": self.type_accuracy,
            "role_accuracy": self.role_accuracy,
        }


def _names(predicted: Any) -> tuple[str, list[str]]:
    """The normalized name and the normalized mention texts of a prediction (model or dict)."""
    data = predicted.model_dump() if hasattr(predicted, "model_dump") else dict(predicted)
    name = normalize_name(data["name"])
    others = [normalize_name(m["text"]) for m in data.get("mentions", [])]
    others += [normalize_name(a) for a in data.get("aliases", [])]
    return name, others


def match_document(gold: Sequence[SpanAnnotation], predicted: Sequence[Any]) -> list[tuple[int, int]]:
    """One-to-one ``(gold index, predicted index)`` pairs under the matching rule of this module."""
    pnames = [_names(p) for p in predicted]
    used_gold: set[int] = set()
    used_pred: set[int] = set()
    pairs = []
    for by_alias in (False, True):
        for gi, g in enumerate(gold):
            if gi in used_gold:
                continue
            key = normalize_name(g.text)
            for pi, (name, others) in enumerate(pnames):
                if pi in used_pred:
                    continue
                if key == name or (by_alias and key in others):
                    pairs.append((gi, pi))
                    used_gold.add(gi)
                    used_pred.add(pi)
                    break
    return sorted(pairs)


def evaluate_predictions(
    records: Sequence[CorpusRecord], predictions: Sequence[Sequence[Any]], where: str = ""
) -> ExtractionReport:
    """Score predictions (one list per record) against the records' gold stakeholders."""
    per_type = {t: ClassScores() for t in STAKEHOLDER_TYPES}
    per_role = {r: ClassScores() for r in ROLES}
    confusion: dict[str, Counter] = {r: Counter() for r in ROLES}
    report = ExtractionReport(where=where, documents=0, gold=0, predicted=0, matched=0, type_correct=0, role_correct=0)
    for record, found in zip(records, predictions, strict=True):
        if not record.stakeholders:
            continue
        found = list(found)
        report.documents += 1
        report.gold += len(record.stakeholders)
        report.predicted += len(found)
        for g in record.stakeholders:
            per_type[g.type].gold += 1
            per_role[g.role].gold += 1
        pairs = match_document(record.stakeholders, found)
        matched_gold = {gi for gi, _ in pairs}
        matched_pred = {pi for _, pi in pairs}
        for gi, pi in pairs:
            g = record.stakeholders[gi]
            p = found[pi].model_dump() if hasattr(found[pi], "model_dump") else dict(found[pi])
            report.matched += 1
            per_type[g.type].found += 1
            per_role[g.role].found += 1
            per_type[p["type"]].predicted += 1
            per_role[p["role"]].predicted += 1
            confusion[g.role][p["role"]] += 1
            if p["type"] == g.type:
                report.type_correct += 1
                per_type[g.type].correct += 1
            if p["role"] == g.role:
                report.role_correct += 1
                per_role[g.role].correct += 1
            report.pairs.append(
                MatchedPair(
                    doc_id=record.id,
                    gold=g.text,
                    predicted=p["name"],
                    gold_type=g.type,
                    predicted_type=p["type"],
                    gold_role=g.role,
                    predicted_role=p["role"],
                )
            )
        report.missed += [(record.id, g.text) for gi, g in enumerate(record.stakeholders) if gi not in matched_gold]
        report.spurious += [
            (record.id, (f.model_dump() if hasattr(f, "model_dump") else dict(f))["name"])
            for pi, f in enumerate(found)
            if pi not in matched_pred
        ]
    report.per_type = per_type
    report.per_role = per_role
    report.role_confusion = {g: dict(c) for g, c in confusion.items()}
    return report


def format_report(report: ExtractionReport, *, examples: int = 0) -> str:
    """A plain-text report: overall figures against the targets, then per type and per role."""
    lines = [
        f"Stakeholder extraction on {report.where}: {report.documents} documents, {report.gold} gold, "
        f"{report.predicted} predicted, {report.matched} matched",
        "",
        f"{'figure':<16}{'value':>8}{'target':>8}  met",
    ]
    for name, value in report.figures().items():
        target = TARGETS.get(name)
        met = "" if target is None else ("yes" if value >= target else f"no ({value - target:+.3f})")
        lines.append(f"{name:<16}{value:>8.3f}{'' if target is None else f'{target:>8.2f}':>8}  {met}")
    lines += ["", f"{'type':<16}{'gold':>6}{'found':>7}{'recall':>8}{'type acc':>10}{'type prec':>11}"]
    for name, s in report.per_type.items():
        lines.append(f"{name:<16}{s.gold:>6}{s.found:>7}{s.recall:>8.3f}{s.accuracy:>10.3f}{s.precision:>11.3f}")
    lines += ["", f"{'role':<16}{'gold':>6}{'found':>7}{'recall':>8}{'role acc':>10}{'role prec':>11}"]
    for name, s in report.per_role.items():
        lines.append(f"{name:<16}{s.gold:>6}{s.found:>7}{s.recall:>8.3f}{s.accuracy:>10.3f}{s.precision:>11.3f}")
    lines += ["", "role confusion (rows gold, columns predicted):", " " * 13 + "".join(f"{r[:7]:>8}" for r in ROLES)]
    for g in ROLES:
        row = report.role_confusion.get(g, {})
        lines.append(f"{g:<13}" + "".join(f"{row.get(p, 0):>8}" for p in ROLES))
    if examples:
        lines += ["", f"missed (first {examples}):"] + [f"  {d}: {t}" for d, t in report.missed[:examples]]
        lines += ["", f"spurious (first {examples}):"] + [f"  {d}: {t}" for d, t in report.spurious[:examples]]
    return "\n".join(lines)


def split_records(split: str, corpus_dir: Path = CORPUS_DIR, splits_file: Path = SPLITS_FILE) -> list[CorpusRecord]:
    """Annotated records of one split; documents not yet in splits.json are assigned in memory, never saved."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    records = load_corpus(corpus_dir)
    assignment = assign_splits(records, load_splits(splits_file))
    return [r for r in records if assignment[r.id] == split and r.stakeholders]


def run_evaluation(
    split: str = "test",
    *,
    corpus_dir: Path = CORPUS_DIR,
    splits_file: Path = SPLITS_FILE,
    extractor: Callable[[list[str]], list[list[Any]]] | None = None,
) -> ExtractionReport:
    """Extract stakeholders from one split's annotated documents and score them."""
    records = split_records(split, corpus_dir, splits_file)
    if extractor is None:
        from classifier.extraction import extract as extractor
    predictions = extractor([r.text for r in records])
    return evaluate_predictions(records, predictions, where=f"the {split} split")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="test", choices=SPLITS)
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--splits-file", type=Path, default=SPLITS_FILE)
    parser.add_argument("--examples", type=int, default=0, help="Also list this many misses and spurious ones.")
    args = parser.parse_args(argv)
    report = run_evaluation(args.split, corpus_dir=args.corpus, splits_file=args.splits_file)
    print(format_report(report, examples=args.examples))


if __name__ == "__main__":
    main()
