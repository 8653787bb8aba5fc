"""`partnership evaluate --llm`: the sample, the metrics with unknown answers, agreement, the report and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from classifier.llm import Adviser, Backend
from classifier.taxonomy import LABELS
from tests.conftest import make_record
from training.evaluate_llm import agreement_metrics, evaluate_llm, label_metrics, sample_rows


def test_the_sample_is_fixed_and_spread_over_the_split():
    ids = [f"doc-{i:04d}" for i in range(200)]
    first, again = sample_rows(ids, 20), sample_rows(ids, 20)
    assert first == again and len(first) == 20 and first == sorted(first)
    assert max(first) > 100  # not simply the first twenty
    assert sample_rows(ids, None) == list(range(200)) and sample_rows(ids, 500) == list(range(200))


def test_unknown_answers_count_as_wrong():
    gold = np.array([0, 1, 2, 3, 4, 0])
    predicted = np.array([0, 1, -1, 3, 0, -1])
    m = label_metrics(gold, predicted)
    assert m["accuracy"] == pytest.approx(3 / 6) and m["answered"] == pytest.approx(4 / 6)
    assert m["accuracy_answered"] == pytest.approx(3 / 4)
    assert m["predicted"] == {"unknown": 2, "A": 2, "B": 1, "D": 1}
    assert m["confusion_with_unknown"][2] == [0, 0, 0, 0, 0, 1]
    assert 0 < m["macro_f1"] < 1


def test_agreement_and_who_is_right_when_they_disagree():
    gold = np.array([0, 0, 1, 1, 2, 2])
    tuned = np.array([0, 0, 1, 2, 2, 0])
    llm = np.array([0, 1, 1, -1, 2, 2])
    review = np.array([False, True, False, True, False, True])
    a = agreement_metrics(gold, llm, tuned, review)
    assert a["agreement"] == pytest.approx(3 / 6) and (a["agree_n"], a["disagree_n"]) == (3, 3)
    assert a["tuned_accuracy_agree"] == 1.0
    assert a["tuned_accuracy_disagree"] == pytest.approx(1 / 3) and a["llm_accuracy_disagree"] == pytest.approx(1 / 3)
    assert (
        a["review_n"] == 3
        and a["tuned_accuracy_review"] == pytest.approx(1 / 3)
        and a["llm_accuracy_review"] == pytest.approx(1 / 3)
    )


class Keyword(Backend):
    """A deterministic stand-in LLM: answers D when it reads 'company', A otherwise; fails on 'round table'."""

    name = "keyword.v1"

    @property
    def model(self) -> str:
        return "keyword"

    def chat(self, messages, *, max_tokens=160, timeout=60.0):
        text = messages[-1]["content"].split("Stakeholders found")[0]
        if "round table" in text:
            raise TimeoutError("simulated hang")
        label = "D" if "company" in text.lower() else "A"
        return json.dumps({"label": label, "rationale": f"Keyword rule chose {label} for this document."})


@pytest.fixture
def small_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    records = [make_record(f"tst-{i:04d}", label) for i, label in enumerate(LABELS * 3)]
    (corpus / "t.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    splits = tmp_path / "splits.json"
    ids = [r.id for r in records]
    splits.write_text(json.dumps({"train": ids[:5], "validation": ids[5:10], "test": ids[10:]}), encoding="utf-8")
    return corpus, splits


def test_evaluate_llm_reports_the_llm_beside_the_fine_tuned_model(small_corpus, tiny_model_dir, tmp_path):
    corpus, splits = small_corpus
    adviser = Adviser(Keyword(), extractor=None, method="generate")
    details = tmp_path / "details.jsonl"
    result = evaluate_llm(adviser, corpus, splits, folder=tiny_model_dir, details=details, rationales=2)
    report = result["report"]
    # A's text has no 'company' -> A; C, D and E's texts do -> D; B's round table hangs -> unknown.
    assert result["llm"]["predicted"] == {"unknown": 1, "A": 1, "D": 3}
    assert result["llm"]["accuracy"] == pytest.approx(2 / 5) and result["errors"] == 1
    assert result["tuned"]["documents"] == 5 and "agreement" in result
    for phrase in (
        "LLM keyword.v1",
        "fine-tuned tiny",
        "agreement LLM vs fine-tuned",
        "where they disagree",
        "documents/s",
        "chance",
        "rationales (first documents)",
    ):
        assert phrase in report
    rows = [json.loads(line) for line in details.read_text().splitlines()]
    assert len(rows) == 5 and {"id", "gold", "label", "rationale", "latency_ms"} <= set(rows[0])
    assert rows[1]["label"] == "unknown" and "simulated hang" in rows[1]["error"] and result["population"] == 5


@pytest.mark.slow
def test_evaluate_llm_with_the_real_local_model_on_two_documents(small_corpus):
    from classifier.llm import create_backend

    corpus, splits = small_corpus
    backend = create_backend("local")  # loaded once per process: test_llm.py usually loaded it already
    adviser = Adviser(backend, extractor=None, method="score", max_chars=300, timeout=120)
    result = evaluate_llm(adviser, corpus, splits, limit=2, rationales=0)
    assert result["llm"]["documents"] == 2 and result["llm"]["answered"] == 1.0
    assert result["method"] == "score" and result["docs_per_second"] > 0 and "tuned" not in result


def test_cli_rejects_limit_without_llm_and_an_unconfigured_endpoint(monkeypatch, tmp_path):
    from api.cli import app
    from api.settings import get_settings

    monkeypatch.setenv("PARTNERSHIP_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    monkeypatch.delenv("PARTNERSHIP_LLM_BASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["evaluate", "--limit", "3"])
        assert result.exit_code != 0 and "--limit applies to --llm only" in result.output
        result = runner.invoke(app, ["evaluate", "--llm", "openai", "--limit", "3"])
        assert result.exit_code == 2 and "LLM_BASE_URL" in result.output
    finally:
        get_settings.cache_clear()
