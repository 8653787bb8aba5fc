"""Models: list, promote, roll back, hot swap under load, and retraining that promotes or refuses by the rule."""

from __future__ import annotations

import json
import threading
import time

import pytest

from classifier.taxonomy import LABELS
from tests.conftest import TEXTS


def test_list_promote_and_rollback_switch_the_served_model_without_restart(client, headers, submit):
    listing = client.get("/models", headers=headers["reviewer"]).json()
    assert listing["serving"] == listing["loaded"] == "tiny-a"
    assert {v["version"]: v["test_macro_f1"] for v in listing["versions"]} == {"tiny-a": 0.5, "tiny-b": 0.4}
    assert submit()["prediction"]["model_version"] == "tiny-a"

    promoted = client.post("/models/tiny-b/promote", headers=headers["admin"])
    assert promoted.status_code == 200 and promoted.json()["serving"] == promoted.json()["loaded"] == "tiny-b"
    assert submit()["prediction"]["model_version"] == "tiny-b"
    assert client.get("/health").json()["model_version"] == "tiny-b"

    rolled = client.post("/models/rollback", headers=headers["admin"]).json()
    assert rolled["serving"] == rolled["loaded"] == "tiny-a"
    assert submit()["prediction"]["model_version"] == "tiny-a"
    assert [h["kind"] for h in rolled["history"]] == ["promote", "promote", "rollback"]
    assert client.post("/models/rollback", headers=headers["admin"]).status_code == 409
    assert client.post("/models/nope/promote", headers=headers["admin"]).status_code == 404


def test_hot_swap_during_requests_fails_none_and_serves_both_versions(client, headers, corpus):
    stop = threading.Event()
    outcomes: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def load(worker: int) -> None:
        i = worker
        while not stop.is_set():
            response = client.post("/documents", json={"text": corpus[i % 40].text}, headers=headers["submitter"])
            body = response.json()
            with lock:
                outcomes.append((response.status_code, (body.get("prediction") or {}).get("model_version")))
            i += 4

    workers = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for worker in workers:
        worker.start()
    try:
        for version in ("tiny-b", "tiny-a", "tiny-b"):
            time.sleep(0.4)
            assert client.post(f"/models/{version}/promote", headers=headers["admin"]).status_code == 200
        time.sleep(0.4)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert len(outcomes) >= 8
    assert {code for code, _ in outcomes} == {201}
    assert {version for _, version in outcomes} == {"tiny-a", "tiny-b"}
    assert outcomes[-1][1] == "tiny-b" or any(v == "tiny-b" for _, v in outcomes[-4:])


@pytest.fixture
def small_corpus(tmp_path, corpus, splits):
    """A data folder with 5 train, 2 validation and 2 test documents per label, taken from the real corpus."""
    data = tmp_path / "data"
    (data / "corpus").mkdir(parents=True)
    chosen, assignment = [], {}
    for label in LABELS:
        for split, n in (("train", 5), ("validation", 2), ("test", 2)):
            rows = [r for r in corpus if r.label == label and splits.get(r.id) == split][:n]
            chosen += rows
            assignment.update({r.id: split for r in rows})
    (data / "corpus" / "small.jsonl").write_text("\n".join(r.model_dump_json() for r in chosen) + "\n")
    grouped = {
        split: sorted(i for i, s in assignment.items() if s == split) for split in ("train", "validation", "test")
    }
    (data / "splits.json").write_text(json.dumps(grouped))
    return data, [r for r in chosen if assignment[r.id] == "test"]


def _retrain(client, headers) -> dict:
    started = client.post("/models/retrain", headers=headers["admin"])
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"/models/jobs/{job['id']}"
    deadline = time.monotonic() + 240
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "retraining did not finish in time"
        time.sleep(0.5)
        job = client.get(f"/models/jobs/{job['id']}", headers=headers["admin"]).json()
    return job


def _review_some(client, headers, submit, test_docs) -> None:
    """Two new documents reviewed, and one whose text is a test-split document's (it must be left out)."""
    for text, label in ((test_docs[0].text, test_docs[0].label), (TEXTS["D"], "D"), (TEXTS["E"], "C")):
        doc = submit(text)
        client.post(
            f"/documents/{doc['id']}/review", json={"version": 1, "label": label}, headers=headers["reviewer"]
        ).raise_for_status()
    submit(index=3)  # predicted but never reviewed: not training data


def test_retrain_promotes_when_not_worse_and_swaps_the_served_model(app, client, headers, submit, small_corpus):
    data, test_docs = small_corpus
    app.state.partnership.settings.data_dir = data
    _review_some(client, headers, submit, test_docs)
    job = _retrain(client, headers)
    assert job["status"] == "succeeded", job["error"]
    result = job["result"]
    assert result["promoted"] is True and "tolerance 0.005" in result["reason"]
    assert result["serving_before"] == {"version": "tiny-a", "macro_f1": 0.5, "accuracy": 0.5}
    assert result["data"] == {
        "corpus_train": 25,
        "reviews": 2,
        "reviews_left_out_held_out_text": 1,
        "train": 27,
        "validation": 10,
        "test": 10,
    }
    assert result["config"]["epochs"] == 1 and result["config"]["max_length"] == 64
    new = result["version"]
    assert result["serving_after"] == new
    models = client.get("/models", headers=headers["admin"]).json()
    assert models["serving"] == models["loaded"] == new
    assert submit()["prediction"]["model_version"] == new


def test_retrain_refuses_a_model_worse_than_the_serving_one(app, client, headers, submit, small_corpus, models_dir):
    data, test_docs = small_corpus
    app.state.partnership.settings.data_dir = data
    metrics = models_dir / "tiny-a" / "metrics.json"
    metrics.write_text(json.dumps({"test": {"macro_f1": 2.0, "accuracy": 1.0}}))  # unbeatable on purpose
    _review_some(client, headers, submit, test_docs)
    job = _retrain(client, headers)
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["promoted"] is False and "vs serving tiny-a 2.0000" in job["result"]["reason"]
    models = client.get("/models", headers=headers["admin"]).json()
    assert models["serving"] == models["loaded"] == "tiny-a"
    assert job["result"]["version"] in {v["version"] for v in models["versions"]}
    jobs = client.get("/models/jobs", headers=headers["admin"]).json()
    assert jobs[0]["id"] == job["id"]


def test_a_failing_job_is_recorded_with_its_error(app, client, headers, tmp_path):
    app.state.partnership.settings.data_dir = tmp_path / "empty"
    job = _retrain(client, headers)
    assert job["status"] == "failed" and "no *.jsonl files" in job["error"]
    assert client.get("/models", headers=headers["admin"]).json()["serving"] == "tiny-a"
