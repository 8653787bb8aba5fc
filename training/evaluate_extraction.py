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
    "fit_weights",
    "format_report",
    "match_document",
    "match_key",
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


# A count or quantity before a generic actor is part of its span but not of its name: "900 students" and
# "students" name one party (data/GUIDELINES.md 4.1 d).
_COUNTS = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "fifteen",
    "twenty", "thirty", "forty", "fifty", "hundred", "several", "many", "some", "all", "dozens", "hundreds",
    "thousands", "around", "about", "over", "nearly", "almost", "roughly", "more", "than", "up", "to",
}  # fmt: skip


def match_key(text: str) -> str:
    """The name as the evaluation compares it: ``normalize_name`` without a leading count ("two banks" -> "banks")."""
    words = normalize_name(text).split()
    i = 0
    while i < len(words) - 1 and (words[i] in _COUNTS or words[i].isdigit()):
        i += 1
        if i < len(words) - 1 and words[i] == "member":  # "a 20-member panel"
            i += 1
    return " ".join(words[i:])


def _names(predicted: Any) -> tuple[str, list[str]]:
    """The matching key of a prediction's name and of its mention texts (model or dict)."""
    data = predicted.model_dump() if hasattr(predicted, "model_dump") else dict(predicted)
    name = match_key(data["name"])
    others = [match_key(m["text"]) for m in data.get("mentions", [])]
    others += [match_key(a) for a in data.get("aliases", [])]
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
            key = match_key(g.text)
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
    limit: int = 0,
    candidates: str = "trained",
) -> ExtractionReport:
    """Extract stakeholders from one split's annotated documents (the first ``limit`` if set) and score them.

    ``candidates``: ``"trained"`` runs the default extractor (the trained span model when it is shipped),
    ``"rules"`` the extractor without it.
    """
    records = split_records(split, corpus_dir, splits_file)
    if limit:
        records = records[:limit]
    if extractor is None:
        from functools import partial

        from classifier.extraction import extract

        extractor = partial(extract, nlp=_extractor(candidates))
    predictions = extractor([r.text for r in records])
    return evaluate_predictions(records, predictions, where=f"the {split} split")


# Name words seen fewer times than this among the train split's matched parties get no weight of their own.
MIN_WORD_COUNT = 5
PARTY_C = 0.3
ROLE_C = 0.3


def _extractor(candidates: str) -> Any:
    """The shared extractor with the trained span model (when shipped) or with the rules' candidates only."""
    from classifier.extraction import load_extractor

    if candidates not in ("trained", "rules"):
        raise ValueError(f"candidates must be 'trained' or 'rules', not {candidates!r}")
    return load_extractor() if candidates == "trained" else load_extractor(spans=None)


def _parsed(nlp: Any, records: Sequence[CorpusRecord]) -> list[Any]:
    """Parse once without the component: fitting runs the component several times on the same Docs."""
    with nlp.select_pipes(disable=["stakeholder_roles"]):
        return list(nlp.pipe((r.text for r in records), batch_size=32))


def _collect(component: Any, docs: Sequence[Any], mode: str) -> list[tuple[list[Any], list[dict[str, float]]]]:
    """Per document: the stakeholders reported and the features collected for each (in the same order)."""
    out = []
    for doc in docs:
        component.collect_mode, component.collected = mode, []
        component(doc)
        feats = [f for kind, _, f in component.collected if kind == mode]
        found = list(doc._.stakeholders or [])
        if len(feats) != len(found):
            raise RuntimeError(f"collected {len(feats)} feature sets for {len(found)} stakeholders")
        out.append((found, feats))
    component.collect_mode, component.collected = None, []
    return out


def _party_rows(records: Sequence[CorpusRecord], collected: list) -> tuple[list[dict[str, float]], list[int], int]:
    """Features and labels (1: the party matches a gold stakeholder) of every candidate party, and the gold count."""
    rows, labels, gold = [], [], 0
    for record, (found, feats) in zip(records, collected, strict=True):
        matched = {pi for _, pi in match_document(record.stakeholders, found)}
        gold += len(record.stakeholders)
        rows += feats
        labels += [int(i in matched) for i in range(len(found))]
    return rows, labels, gold


def _fit(rows: list[dict[str, float]], labels: list[Any], c: float, classes: Sequence[str]) -> Any:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    from classifier.extraction.scoring import LinearModel

    vec = DictVectorizer()
    x = vec.fit_transform(rows)
    model = LogisticRegression(C=c, max_iter=5000).fit(x, labels)
    names = vec.get_feature_names_out()
    fitted = [str(k) for k in model.classes_]
    if len(fitted) == 2 and len(classes) == 2:  # binary: sklearn keeps one row for the second class
        coef = [[0.0] * len(names), list(model.coef_[0])]
        bias = [0.0, float(model.intercept_[0])]
    else:
        coef, bias = [list(row) for row in model.coef_], [float(b) for b in model.intercept_]
    order = [fitted.index(k) for k in classes if k in fitted]
    weights = {
        str(n): tuple(round(float(coef[k][j]), 4) for k in order)
        for j, n in enumerate(names)
        if any(abs(coef[k][j]) >= 1e-4 for k in order)
    }
    return LinearModel(tuple(k for k in classes if k in fitted), weights, tuple(round(bias[k], 4) for k in order))


def _best_threshold(probs: list[float], labels: list[int], gold: int) -> tuple[float, float]:
    """The keep threshold with the best F1 (matched parties approximated by the labels of the kept ones)."""
    best = (0.0, 0.5)
    for t in [i / 100 for i in range(10, 91)]:
        kept = [y for p, y in zip(probs, labels, strict=True) if p >= t]
        tp = sum(kept)
        if not kept or not tp:
            continue
        precision, recall = tp / len(kept), tp / gold
        f1 = 2 * precision * recall / (precision + recall)
        best = max(best, (f1, t))
    return best[1], best[0]


def fit_weights(
    *,
    corpus_dir: Path = CORPUS_DIR,
    splits_file: Path = SPLITS_FILE,
    out: Path | None = None,
    candidates: str = "trained",
) -> tuple[Any, ExtractionReport]:
    """Fit the party and role weights on the train split, pick the keep threshold on validation, save them.

    The test split is not read. Returns the weights and the validation report with them in place. The
    weights go to ``weights_trained.json`` when the extractor takes the trained span model's candidates,
    to ``weights.json`` with the rules' (``candidates="rules"``, or no span model shipped).
    """
    import json

    from classifier.extraction.scoring import TRAINED_WEIGHTS_FILE, WEIGHTS_FILE

    nlp = _extractor(candidates)
    component = nlp.get_pipe("stakeholder_roles")
    train = split_records("train", corpus_dir, splits_file)
    validation = split_records("validation", corpus_dir, splits_file)
    train_docs, val_docs = _parsed(nlp, train), _parsed(nlp, validation)
    weights, report = _fit_on_docs(component, train, validation, train_docs, val_docs)
    threshold, party, role = weights.threshold, weights.party, weights.role
    target = out or (WEIGHTS_FILE if component.candidate_source == "rules" else TRAINED_WEIGHTS_FILE)
    data = {"note": weights.note, "threshold": threshold, "party": party.to_dict(), "role": role.to_dict()}
    target.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    return weights, report


def _fit_on_docs(
    component: Any,
    train: Sequence[CorpusRecord],
    validation: Sequence[CorpusRecord],
    train_docs: Sequence[Any],
    val_docs: Sequence[Any],
) -> tuple[Any, ExtractionReport]:
    """The fitting itself on parsed Docs (parsing is most of the time; comparing settings reuses them).

    The component keeps the weights it had; returns the new weights and the validation report with them.
    """
    from classifier.extraction.scoring import Weights

    saved = component.weights
    try:
        component.weights = None
        rows, labels, _ = _party_rows(train, _collect(component, train_docs, "party"))
        party = _fit(rows, [("drop", "keep")[y] for y in labels], PARTY_C, ("drop", "keep"))
        vrows, vlabels, vgold = _party_rows(validation, _collect(component, val_docs, "party"))
        threshold, _ = _best_threshold([party.probabilities(f)["keep"] for f in vrows], vlabels, vgold)
        # role weights on the parties the party weights keep, as at run time (the role model's first draft is the rules)
        component.weights = Weights(party=party, role=_rules_only(), threshold=threshold)
        role_rows, role_labels = [], []
        for record, (found, feats) in zip(train, _collect(component, train_docs, "role"), strict=True):
            for gi, pi in match_document(record.stakeholders, found):
                role_rows.append(feats[pi])
                role_labels.append(record.stakeholders[gi].role)
        words = Counter(k for r in role_rows for k in r if k.startswith(("w:", "head:")))
        role_rows = [{k: v for k, v in r.items() if not k.startswith(("w:", "head:")) or words[k] >= MIN_WORD_COUNT}
                     for r in role_rows]  # fmt: skip
        role = _fit(role_rows, role_labels, ROLE_C, ROLES)
        weights = Weights(
            party=party,
            role=role,
            threshold=threshold,
            note=f"candidates: {component.candidate_source}; "
            f"fitted on the train split ({len(train)} documents); keep threshold chosen on validation "
            f"({len(validation)} documents); C={PARTY_C}/{ROLE_C}, name words seen >= {MIN_WORD_COUNT} times",
        )
        component.weights = weights
        for doc in val_docs:
            component(doc)
        report = evaluate_predictions(validation, [d._.stakeholders for d in val_docs], where="the validation split")
    finally:
        component.weights = saved  # the process's shared pipeline keeps the weights it loaded
    return weights, report


def _rules_only() -> Any:
    """A role model that knows no feature: every party keeps the role the votes gave it (ties to the votes)."""
    from classifier.extraction.scoring import LinearModel

    return LinearModel(tuple(ROLES), {}, tuple(0.0 for _ in ROLES))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="test", choices=SPLITS)
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--splits-file", type=Path, default=SPLITS_FILE)
    parser.add_argument("--examples", type=int, default=0, help="Also list this many misses and spurious ones.")
    parser.add_argument("--limit", type=int, default=0, help="Only the first N documents of the split (0: all).")
    parser.add_argument(
        "--candidates", default="trained", choices=("trained", "rules"),
        help="Candidates from the trained span model (when shipped) or from the rules alone.",
    )  # fmt: skip
    parser.add_argument(
        "--fit", action="store_true", help="Fit the learned weights on train, tune on validation, save them."
    )
    args = parser.parse_args(argv)
    if args.fit:
        weights, report = fit_weights(corpus_dir=args.corpus, splits_file=args.splits_file, candidates=args.candidates)
        print(f"weights saved; keep threshold {weights.threshold:.2f}; {weights.note}")
        print(format_report(report, examples=args.examples))
        return
    report = run_evaluation(
        args.split, corpus_dir=args.corpus, splits_file=args.splits_file, limit=args.limit, candidates=args.candidates
    )
    print(format_report(report, examples=args.examples))


if __name__ == "__main__":
    main()
