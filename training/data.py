"""The corpus as a Hugging Face ``DatasetDict`` with its frozen splits, and its statistics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from classifier.taxonomy import INTERNATIONAL_LEVELS, LABELS
from training.corpus import CORPUS_DIR, CorpusRecord, load_corpus
from training.splits import SPLITS, SPLITS_FILE, load_splits

__all__ = ["FEATURES", "corpus_stats", "load_dataset_dict", "to_dataset_dict"]

FEATURES = Features(
    {
        "id": Value("string"),
        "text": Value("string"),
        "label": ClassLabel(names=list(LABELS)),
        "city": Value("string"),
        "country": Value("string"),
        "genre": Value("string"),
        "sector": Value("string"),
        "testbed": Value("bool"),
        "international": ClassLabel(names=list(INTERNATIONAL_LEVELS)),
        "stakeholders": [
            {
                "text": Value("string"),
                "start": Value("int32"),
                "end": Value("int32"),
                "type": Value("string"),
                "role": Value("string"),
            }
        ],
    }
)


def to_dataset_dict(records: list[CorpusRecord], splits: dict[str, str]) -> DatasetDict:
    """Records to a ``DatasetDict`` with train / validation / test; every record must have a split."""
    missing = [r.id for r in records if r.id not in splits]
    if missing:
        raise ValueError(f"{len(missing)} documents have no split (e.g. {missing[0]}); run `partnership data split`")
    parts = {}
    for split in SPLITS:
        rows = [r.model_dump() for r in records if splits[r.id] == split]
        parts[split] = Dataset.from_list(rows, features=FEATURES)
    return DatasetDict(parts)


def load_dataset_dict(corpus_dir: Path = CORPUS_DIR, splits_file: Path = SPLITS_FILE) -> DatasetDict:
    """The corpus on disk as a ``DatasetDict`` (the test split is for final evaluation only)."""
    return to_dataset_dict(load_corpus(corpus_dir), load_splits(splits_file))


def corpus_stats(records: list[CorpusRecord], splits: dict[str, str]) -> dict[str, Counter]:
    """Counts per label, genre, sector, country, split, aspect and annotation, for `partnership data stats`."""
    annotated = [r for r in records if r.stakeholders]
    return {
        "label": Counter(r.label for r in records),
        "split": Counter(splits.get(r.id, "unassigned") for r in records),
        "label x split": Counter(f"{r.label} {splits.get(r.id, 'unassigned')}" for r in records),
        "genre": Counter(r.genre for r in records),
        "sector": Counter(r.sector for r in records),
        "country": Counter(r.country for r in records),
        "testbed": Counter("yes" if r.testbed else "no" for r in records),
        "international": Counter(r.international for r in records),
        "annotated per label": Counter(r.label for r in annotated),
        "annotated per split": Counter(splits.get(r.id, "unassigned") for r in annotated),
        "stakeholder type": Counter(s.type for r in annotated for s in r.stakeholders),
        "stakeholder role": Counter(s.role for r in annotated for s in r.stakeholders),
        "words": Counter(
            "40-100" if n <= 100 else "101-300" if n <= 300 else "301-600"
            for n in (len(r.text.split()) for r in records)
        ),
    }
