"""Corpus quality checks: what `partnership data check` and the tests enforce.

Each check returns a list of :class:`Problem`; :func:`check_corpus` runs them all.
The checks guard what a model could otherwise learn by accident: templated
text (repeated sentences, low n-gram diversity), label words leaking into the
text, and duplicates that would put the same document on both sides of a split.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from classifier.taxonomy import LABELS
from training.corpus import CorpusRecord
from training.splits import SPLITS

__all__ = [
    "DISTINCT_4GRAM_MIN",
    "LABEL_WORDS",
    "NEAR_DUPLICATE_COSINE",
    "CheckReport",
    "Problem",
    "check_corpus",
    "distinct_ngram_ratio",
    "find_label_words",
    "find_near_duplicates",
    "find_repeated_sentences",
]

MIN_WORDS, MAX_WORDS = 40, 600
REPEATED_SENTENCE_WORDS = 8
REPEATED_SENTENCE_MAX_DOCS = 2
NEAR_DUPLICATE_COSINE = 0.9
# Set from a hand-written sample: distinct-4-gram ratio in windows of NGRAM_WINDOW 4-grams (see GUIDELINES.md).
DISTINCT_4GRAM_MIN = 0.80
NGRAM_WINDOW = 20_000
CORPUS_MINIMA = {"documents": 1500, "per_label": 250, "countries": 60, "annotated": 600}
TEST_SHARE_MIN = 0.15

# Words that would hand the label to a model: the models' names, their letters, "-led" compounds.
LABEL_WORDS = re.compile(
    r"\b\w+-led\b|\b(city|private|privately|public|government) led\b|\bpublic[- ]private (investment|spc)\b"
    r"|\bSPC\b|\bcity[- ]private\b|\bcollaborative (partnership )?model\b",
    re.IGNORECASE,
)
_LETTER_REFERENCE = re.compile(r"\b([Mm]odel|[Tt]ype|[Cc]ategory) [A-E]\b")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Problem:
    """One failed check: which check, which documents, what is wrong."""

    check: str
    message: str
    ids: tuple[str, ...] = ()


@dataclass
class CheckReport:
    """All problems found; the corpus passes when there are none."""

    problems: list[Problem] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _normalize(sentence: str) -> str:
    return " ".join(_WORD.findall(sentence.lower()))


def find_label_words(text: str) -> list[str]:
    """Label names, letters or '-led' compounds found in ``text`` (case-sensitive for bare letters)."""
    return [m.group(0) for m in LABEL_WORDS.finditer(text)] + [m.group(0) for m in _LETTER_REFERENCE.finditer(text)]


def find_repeated_sentences(
    records: list[CorpusRecord], min_words: int = REPEATED_SENTENCE_WORDS, max_docs: int = REPEATED_SENTENCE_MAX_DOCS
) -> dict[str, list[str]]:
    """Sentences of ``min_words``+ words that occur in more than ``max_docs`` documents."""
    where: dict[str, set[str]] = defaultdict(set)
    for record in records:
        for sentence in _SENTENCE_END.split(record.text):
            norm = _normalize(sentence)
            if len(norm.split()) >= min_words:
                where[norm].add(record.id)
    return {s: sorted(ids) for s, ids in where.items() if len(ids) > max_docs}


def distinct_ngram_ratio(texts: list[str], n: int = 4, window: int = NGRAM_WINDOW, seed: int = 0) -> float:
    """Mean share of distinct word n-grams in windows of ``window`` n-grams, documents in shuffled order.

    Windows of fixed size make the figure independent of corpus size, so a
    threshold measured on a small hand-written sample applies to the whole corpus.
    """
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    ratios: list[float] = []
    current: list[tuple[str, ...]] = []
    for i in order:
        words = _WORD.findall(texts[i].lower())
        current += [tuple(words[j : j + n]) for j in range(len(words) - n + 1)]
        while len(current) >= window:
            chunk, current = current[:window], current[window:]
            ratios.append(len(set(chunk)) / len(chunk))
    if not ratios and current:
        ratios.append(len(set(current)) / len(current))
    return sum(ratios) / len(ratios) if ratios else 1.0


def find_near_duplicates(
    records: list[CorpusRecord], threshold: float = NEAR_DUPLICATE_COSINE
) -> list[tuple[str, str, float]]:
    """Pairs of documents whose TF-IDF cosine similarity exceeds ``threshold``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(records) < 2:
        return []
    matrix = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1).fit_transform(r.text for r in records)
    similarity = (matrix @ matrix.T).tocoo()
    pairs = []
    for i, j, value in zip(similarity.row, similarity.col, similarity.data, strict=True):
        if i < j and value > threshold:
            pairs.append((records[i].id, records[j].id, float(value)))
    return sorted(pairs, key=lambda p: -p[2])


def _check_records(records: list[CorpusRecord]) -> list[Problem]:
    problems = []
    seen_ids: Counter[str] = Counter(r.id for r in records)
    for doc_id, count in seen_ids.items():
        if count > 1:
            problems.append(Problem("schema", f"id {doc_id} appears {count} times", (doc_id,)))
    for record in records:
        words = len(record.text.split())
        if not MIN_WORDS <= words <= MAX_WORDS:
            problems.append(Problem("length", f"{words} words, not {MIN_WORDS}-{MAX_WORDS}", (record.id,)))
        for span in record.stakeholders:
            if record.text[span.start : span.end] != span.text:
                got = record.text[span.start : span.end]
                problems.append(
                    Problem("spans", f"[{span.start}:{span.end}] is {got!r}, not {span.text!r}", (record.id,))
                )
        leaks = find_label_words(record.text)
        if leaks:
            problems.append(
                Problem("label_words", f"label wording in text: {', '.join(sorted(set(leaks)))}", (record.id,))
            )
    return problems


def _check_duplicates(records: list[CorpusRecord], splits: dict[str, str]) -> list[Problem]:
    problems = []
    by_text: dict[str, list[str]] = defaultdict(list)
    for record in records:
        by_text[_normalize(record.text)].append(record.id)
    for ids in by_text.values():
        if len(ids) > 1:
            problems.append(Problem("exact_duplicates", "same text", tuple(ids)))
    for a, b, cosine in find_near_duplicates(records):
        where = "across splits" if splits.get(a) != splits.get(b) else "within a split"
        problems.append(Problem("near_duplicates", f"TF-IDF cosine {cosine:.3f} {where}", (a, b)))
    return problems


def _check_splits(records: list[CorpusRecord], splits: dict[str, str]) -> list[Problem]:
    missing = [r.id for r in records if r.id not in splits]
    if missing:
        return [
            Problem(
                "splits", f"{len(missing)} documents have no split; run `partnership data split`", tuple(missing[:20])
            )
        ]
    problems = []
    known = {r.id for r in records}
    stale = sorted(set(splits) - known)
    if stale:
        problems.append(Problem("splits", f"{len(stale)} ids in splits.json are not in the corpus", tuple(stale[:20])))
    test_share = sum(splits[r.id] == "test" for r in records) / max(len(records), 1)
    if test_share < TEST_SHARE_MIN - 0.005:
        problems.append(Problem("splits", f"test split is {test_share:.1%} of the corpus, below {TEST_SHARE_MIN:.0%}"))
    for label in LABELS:
        present = {splits[r.id] for r in records if r.label == label}
        if present and present != set(SPLITS):
            problems.append(Problem("splits", f"label {label} is missing from split(s) {set(SPLITS) - present}"))
    return problems


def _check_minima(records: list[CorpusRecord], splits: dict[str, str]) -> list[Problem]:
    problems = []
    label_counts = Counter(r.label for r in records)
    countries = {r.country for r in records}
    annotated = [r for r in records if r.stakeholders]
    if len(records) < CORPUS_MINIMA["documents"]:
        problems.append(Problem("minima", f"{len(records)} documents, fewer than {CORPUS_MINIMA['documents']}"))
    for label in LABELS:
        if label_counts[label] < CORPUS_MINIMA["per_label"]:
            problems.append(
                Problem(
                    "minima", f"label {label}: {label_counts[label]} documents, fewer than {CORPUS_MINIMA['per_label']}"
                )
            )
    if len(countries) < CORPUS_MINIMA["countries"]:
        problems.append(Problem("minima", f"{len(countries)} countries, fewer than {CORPUS_MINIMA['countries']}"))
    if len(annotated) < CORPUS_MINIMA["annotated"]:
        problems.append(
            Problem("minima", f"{len(annotated)} annotated documents, fewer than {CORPUS_MINIMA['annotated']}")
        )
    for label in LABELS:
        for split in SPLITS:
            if not any(r.label == label and splits.get(r.id) == split for r in annotated):
                problems.append(Problem("minima", f"no annotated document of label {label} in split {split}"))
    return problems


def check_corpus(
    records: list[CorpusRecord],
    splits: dict[str, str],
    *,
    minima: bool = True,
    min_distinct_4grams: float = DISTINCT_4GRAM_MIN,
) -> CheckReport:
    """Run every check; ``minima=False`` skips the corpus-size targets (for small test corpora)."""
    report = CheckReport()
    report.problems += _check_records(records)
    for sentence, ids in find_repeated_sentences(records).items():
        report.problems.append(Problem("repeated_sentences", f"in {len(ids)} documents: {sentence!r}", tuple(ids)))
    ratio = distinct_ngram_ratio([r.text for r in records])
    report.figures["distinct_4gram_ratio"] = ratio
    if ratio < min_distinct_4grams:
        report.problems.append(
            Problem("diversity", f"distinct-4-gram ratio {ratio:.3f} below {min_distinct_4grams:.2f}")
        )
    report.problems += _check_duplicates(records, splits)
    report.problems += _check_splits(records, splits)
    if minima:
        report.problems += _check_minima(records, splits)
    return report
