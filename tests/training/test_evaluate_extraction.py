"""The extraction evaluation on a tiny hand-made gold set: matching rule, figures, per-class counts, splits."""

from __future__ import annotations

import json

import pytest

from classifier.extraction import Mention, Stakeholder
from tests.conftest import make_record
from training.evaluate_extraction import evaluate_predictions, format_report, match_document, run_evaluation

TEXT = (
    "The City of Velmora (the council) leads the pilot. Lumatek GmbH installs the lamps. "
    "Residents of the old town were consulted, and the Velmora Chamber of Commerce advised the city."
)


def span(text: str, stype: str, role: str) -> dict:
    start = TEXT.index(text)
    return {"text": text, "start": start, "end": start + len(text), "type": stype, "role": role}


def predicted(name: str, stype: str, role: str, aliases: tuple[str, ...] = ()) -> Stakeholder:
    start = TEXT.index(name)
    mentions = [Mention(text=name, start=start, end=start + len(name))]
    mentions += [Mention(text=a, start=TEXT.index(a), end=TEXT.index(a) + len(a)) for a in aliases]
    return Stakeholder(
        name=name, type=stype, role=role, start=start, end=start + len(name), evidence="", evidence_start=0,
        evidence_end=0, role_confidence=1.0, source="ner", aliases=list(aliases), mentions=mentions,
    )  # fmt: skip


@pytest.fixture
def record():
    gold = [
        span("City of Velmora", "government", "lead"),
        span("Lumatek GmbH", "private", "operator"),
        span("Residents of the old town", "civil_society", "beneficiary"),
        span("Velmora Chamber of Commerce", "private", "advisor"),
    ]
    return make_record("tst-0001", "A", TEXT, stakeholders=gold)


def test_figures_on_a_tiny_gold_set(record):
    preds = [
        predicted("The City of Velmora", "government", "lead", aliases=("the council",)),  # article ignored
        predicted("Lumatek GmbH", "private", "investor"),  # found, wrong role
        predicted("Residents", "civil_society", "beneficiary"),  # boundary differs: no match
        predicted("old town", "civil_society", "participant"),  # spurious
    ]
    report = evaluate_predictions([record], [preds], where="tiny")
    assert (report.gold, report.predicted, report.matched) == (4, 4, 2)
    assert report.precision == pytest.approx(2 / 4)
    assert report.recall == pytest.approx(2 / 4)
    assert report.f1 == pytest.approx(0.5)
    assert report.type_accuracy == pytest.approx(1.0)
    assert report.role_accuracy == pytest.approx(1 / 2)
    assert report.per_role["operator"].gold == 1 and report.per_role["operator"].correct == 0
    assert report.per_type["private"].gold == 2 and report.per_type["private"].found == 1
    assert report.role_confusion["operator"] == {"investor": 1}
    assert sorted(t for _, t in report.missed) == ["Residents of the old town", "Velmora Chamber of Commerce"]
    assert sorted(t for _, t in report.spurious) == ["Residents", "old town"]


def test_alias_mentions_match_and_matching_is_one_to_one(record):
    # the gold name only appears among the prediction's mentions; a second prediction cannot reuse the gold
    preds = [
        predicted("the council", "government", "lead", aliases=("City of Velmora",)),
        predicted("City of Velmora", "government", "lead"),
    ]
    pairs = match_document(record.stakeholders, preds)
    assert pairs == [(0, 1)]  # own-name matches are preferred over alias matches
    report = evaluate_predictions([record], [preds])
    assert report.matched == 1 and report.predicted == 2


def test_case_punctuation_and_legal_form_do_not_matter(record):
    preds = [predicted("Lumatek GmbH", "private", "operator")]
    preds[0] = preds[0].model_copy(update={"name": "LUMATEK"})
    assert match_document(record.stakeholders, preds) == [(1, 0)]


def test_documents_without_gold_are_skipped():
    empty = make_record("tst-0002", "A")
    report = evaluate_predictions([empty], [[predicted("City of Velmora", "government", "lead")]])
    assert report.documents == 0 and report.predicted == 0
    assert report.precision == 0.0 and report.recall == 0.0


def test_report_text_shows_targets_per_type_and_role(record):
    report = evaluate_predictions([record], [[predicted("Lumatek GmbH", "private", "operator")]], where="tiny")
    text = format_report(report, examples=3)
    assert "precision" in text and "0.85" in text and "role confusion" in text
    assert "civil_society" in text and "beneficiary" in text
    assert "missed" in text and "Velmora Chamber of Commerce" in text


def test_run_evaluation_reads_one_split_and_assigns_new_documents_in_memory(tmp_path, record):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    other = make_record("tst-0003", "B", TEXT, stakeholders=[span("Lumatek GmbH", "private", "advisor")])
    (corpus / "t.jsonl").write_text(
        "\n".join(json.dumps(r.model_dump()) for r in (record, other)) + "\n", encoding="utf-8"
    )
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"train": [], "validation": ["tst-0001"], "test": []}), encoding="utf-8")
    seen: list[str] = []

    def fake_extractor(texts: list[str]) -> list[list[Stakeholder]]:
        seen.extend(texts)
        return [[predicted("Lumatek GmbH", "private", "operator")] for _ in texts]

    report = run_evaluation("validation", corpus_dir=corpus, splits_file=splits, extractor=fake_extractor)
    assert report.documents == 1 and len(seen) == 1
    assert report.recall == pytest.approx(1 / 4) and report.precision == pytest.approx(1.0)
    assert json.loads(splits.read_text())["validation"] == ["tst-0001"]  # never rewritten
    with pytest.raises(ValueError, match="unknown split"):
        run_evaluation("dev", corpus_dir=corpus, splits_file=splits, extractor=fake_extractor)


def test_counts_do_not_tell_generic_parties_apart():
    from training.evaluate_extraction import match_key

    assert match_key("4,100 households") == match_key("households") == "households"
    assert match_key("a 20-member residents' panel") == "residents panel"
    assert match_key("Two") == "two"  # nothing left to compare: the count stays
    assert match_key("Group of Five") == "group of five"


def test_fitting_helpers_on_separable_rows():
    from training.evaluate_extraction import _best_threshold, _fit

    rows = [{"named": 1.0}] * 20 + [{"named": 0.0}] * 20
    labels = ["keep"] * 18 + ["drop"] * 2 + ["drop"] * 18 + ["keep"] * 2
    model = _fit(rows, labels, 1.0, ("drop", "keep"))
    assert model.classes == ("drop", "keep")
    assert model.probabilities({"named": 1.0})["keep"] > 0.7 > model.probabilities({"named": 0.0})["keep"]
    probs = [model.probabilities(r)["keep"] for r in rows]
    threshold, f1 = _best_threshold(probs, [int(y == "keep") for y in labels], gold=20)
    assert 0.1 <= threshold <= 0.9 and f1 == pytest.approx(0.9)


def test_fit_weights_on_a_tiny_corpus_writes_loadable_weights_and_leaves_the_pipeline_alone(tmp_path):
    from classifier.extraction import load_extractor
    from classifier.extraction.scoring import load_weights
    from training.evaluate_extraction import fit_weights

    gold = [
        span("City of Velmora", "government", "lead"),
        span("Lumatek GmbH", "private", "operator"),
        span("Residents of the old town", "civil_society", "beneficiary"),
    ]
    records = [make_record(f"tst-{i:04d}", "A", TEXT, stakeholders=gold) for i in range(1, 7)]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "t.jsonl").write_text("\n".join(json.dumps(r.model_dump()) for r in records) + "\n", encoding="utf-8")
    splits = tmp_path / "splits.json"
    ids = [r.id for r in records]
    splits.write_text(json.dumps({"train": ids[:4], "validation": ids[4:], "test": []}), encoding="utf-8")
    shipped = load_extractor().get_pipe("stakeholder_roles").weights
    out = tmp_path / "weights.json"

    weights, report = fit_weights(corpus_dir=corpus, splits_file=splits, out=out)
    assert load_weights(out) == weights
    assert set(weights.role.classes) <= {"lead", "operator", "beneficiary"}
    assert report.documents == 2 and report.recall > 0
    assert load_extractor().get_pipe("stakeholder_roles").weights is shipped


def test_the_candidate_source_is_checked_before_anything_runs():
    from training.evaluate_extraction import _extractor

    with pytest.raises(ValueError, match="candidates must be"):
        _extractor("neural")
    assert _extractor("rules").get_pipe("stakeholder_roles").candidate_source == "rules"
