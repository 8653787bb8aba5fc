"""The real corpus in data/: it loads, passes every check and meets the issue's targets."""

import json

import pytest

from classifier.taxonomy import LABELS
from training.checks import check_corpus
from training.corpus import CorpusError, load_corpus
from training.data import to_dataset_dict


def test_real_corpus_passes_every_check(corpus, splits):
    report = check_corpus(corpus, splits)
    assert [f"{p.check}: {p.message} {p.ids[:3]}" for p in report.problems] == []


def test_dataset_dict_has_frozen_stratified_splits(corpus, splits):
    dd = to_dataset_dict(corpus, splits)
    assert set(dd) == {"train", "validation", "test"}
    assert dd["train"].features["label"].names == list(LABELS)
    assert len(dd["test"]) / len(corpus) >= 0.15
    test_ids = set(dd["test"]["id"])
    assert not test_ids & set(dd["train"]["id"]) and not test_ids & set(dd["validation"]["id"])


def test_schema_errors_name_the_file_and_record(tmp_path):
    bad = {
        "id": "tst-0001",
        "text": "x " * 50,
        "label": "F",
        "city": "X",
        "country": "Y",
        "genre": "news_item",
        "sector": "energy",
        "stakeholders": [],
        "testbed": False,
        "international": "none",
    }
    (tmp_path / "bad.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(CorpusError, match=r"bad.jsonl: record 1 \(tst-0001\): label"):
        load_corpus(tmp_path)
