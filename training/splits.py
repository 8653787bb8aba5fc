"""Train / validation / test membership, frozen in ``data/splits.json``.

The split is stored, not recomputed, so the held-out test documents never
change when the corpus grows: new documents are assigned deterministically,
per label, to whichever split is furthest below its target share.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from training.corpus import DATA_DIR, CorpusRecord

__all__ = ["SPLITS", "SPLITS_FILE", "TARGET_SHARES", "assign_splits", "load_splits", "save_splits"]

SPLITS = ("train", "validation", "test")
TARGET_SHARES = {"train": 0.695, "validation": 0.15, "test": 0.155}
SPLITS_FILE = DATA_DIR / "splits.json"
SEED = "partnership-splits-v1"


def _rank(doc_id: str) -> str:
    return hashlib.sha256(f"{SEED}:{doc_id}".encode()).hexdigest()


def assign_splits(records: Iterable[CorpusRecord], existing: dict[str, str] | None = None) -> dict[str, str]:
    """Map every record id to a split, keeping ``existing`` assignments and stratifying new ones by label."""
    existing = dict(existing or {})
    by_label: dict[str, list[str]] = defaultdict(list)
    for record in records:
        by_label[record.label].append(record.id)
    assignment: dict[str, str] = {}
    for label in sorted(by_label):
        ids = by_label[label]
        counts = dict.fromkeys(SPLITS, 0)
        for doc_id in ids:
            if doc_id in existing:
                assignment[doc_id] = existing[doc_id]
                counts[existing[doc_id]] += 1
        for doc_id in sorted((i for i in ids if i not in existing), key=_rank):
            total = sum(counts.values()) + 1
            split = max(SPLITS, key=lambda s: TARGET_SHARES[s] * total - counts[s])
            assignment[doc_id] = split
            counts[split] += 1
    return assignment


def load_splits(path: Path = SPLITS_FILE) -> dict[str, str]:
    """The frozen assignment id -> split (empty if none was saved yet)."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {doc_id: split for split in SPLITS for doc_id in data.get(split, [])}


def save_splits(assignment: dict[str, str], path: Path = SPLITS_FILE) -> None:
    """Write the assignment as sorted id lists per split (stable, reviewable diffs)."""
    data = {split: sorted(i for i, s in assignment.items() if s == split) for split in SPLITS}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
