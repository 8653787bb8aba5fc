from collections import Counter

from tests.conftest import make_record
from training.splits import assign_splits, load_splits, save_splits


def _records(n_per_label: int):
    return [
        make_record(f"tst-{ord(label) * 1000 + i:05d}", label, f"text {label} {i} " * 10)
        for label in "ABCDE"
        for i in range(n_per_label)
    ]


def test_split_is_stratified_and_deterministic():
    records = _records(100)
    first = assign_splits(records)
    assert first == assign_splits(list(reversed(records)))
    for label in "ABCDE":
        counts = Counter(first[r.id] for r in records if r.label == label)
        assert counts["test"] >= 15 and counts["validation"] >= 14 and counts["train"] >= 68


def test_existing_assignments_never_move(tmp_path):
    records = _records(40)
    first = assign_splits(records[:100])
    save_splits(first, tmp_path / "splits.json")
    again = assign_splits(records, load_splits(tmp_path / "splits.json"))
    assert {k: again[k] for k in first} == first
    assert set(again) == {r.id for r in records}
