"""The LLM's second opinion on the review page (issue 7): computed in the background and on demand, stored in
the prediction's payload, shown escaped beside the prediction with an agreement mark, never a failed request,
and never training data unless a reviewer accepts it."""

from __future__ import annotations

import html
import re
import time

import pytest

from api.jobs.opinions import OpinionWorker, agreement, review_mode, wanted
from api.jobs.retrain import build_dataset
from api.settings import Settings
from api.store import queries
from classifier.taxonomy import LABELS
from tests.api.test_pages import _login
from tests.classifier.test_llm import _start_server, _stop
from tests.conftest import TEXTS

UNREACHABLE = {"llm_backend": "openai", "llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "some-model"}


@pytest.fixture(scope="session")
def review_llm_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("review-llm-cache")


@pytest.fixture
def sleepy_llm(review_llm_cache):
    """A real OpenAI-compatible server on loopback that sleeps 30 s before every answer (stopped after the test)."""
    process, url = _start_server("--delay", "30", "--cache-dir", str(review_llm_cache))
    yield url
    _stop(process)


@pytest.fixture
def settings(settings, request, review_llm_cache):
    """The service settings with LLM fields from the test's parameter (background opinions off unless asked)."""
    overrides = {"llm_cache_dir": review_llm_cache, "llm_max_new_tokens": 8, "llm_review": "off"}
    overrides |= getattr(request, "param", {})
    if overrides.pop("sleepy", False):
        overrides["llm_base_url"] = request.getfixturevalue("sleepy_llm")
    return settings.model_copy(update=overrides)


def _wait_for_opinion(client, headers, document_id: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/documents/{document_id}", headers=headers).json()
        if body.get("llm_opinion"):
            return body
        time.sleep(0.5)
    raise AssertionError(f"no LLM opinion for document {document_id} within {timeout} s")


def _store(db, document_id: int, label: str, rationale: str) -> dict:
    """An opinion as the worker stores it, written through the real storage function."""
    with db.session() as session:
        document = queries.get_document(session, document_id)
        predicted = document.predicted_label
        opinion = {
            "label": label,
            "rationale": rationale,
            "backend": "local.v1",
            "model": "SmolLM2-135M-Instruct",
            "agrees_with_classifier": label == predicted,
            "classifier_label": predicted,
            "method": "score",
            "latency_ms": 4321,
            "asked_by": "background",
        }
        queries.save_llm_opinion(session, document.prediction_id, opinion)
    return opinion


def _other(label: str) -> str:
    return next(x for x in LABELS if x != label)


def test_the_mode_the_marks_and_what_the_worker_selects():
    local, remote = Settings(llm_backend="local"), Settings(llm_backend="openai", llm_base_url="http://h/v1")
    assert review_mode(local) == "off" and review_mode(remote) == "needs_review"
    assert review_mode(Settings(llm_backend="openai", llm_base_url=None)) == "off"
    assert review_mode(local.model_copy(update={"llm_review": "all"})) == "all"
    assert wanted("needs_review", {"needs_review": True}) and not wanted("needs_review", {"needs_review": False})
    assert wanted("all", {"needs_review": False}) and not wanted("off", {"needs_review": True})
    assert not wanted("all", {"llm_opinion": {"label": "A"}})
    assert agreement(None) is None
    assert agreement({"label": "C", "agrees_with_classifier": True}) == "agrees"
    assert agreement({"label": "C", "agrees_with_classifier": False}) == "disagrees"
    assert agreement({"label": "unknown", "agrees_with_classifier": None, "error": "x"}) == "no answer"


def test_the_worker_polls_new_predictions_into_a_bounded_queue(app, submit, db):
    docs = [submit(TEXTS[label]) for label in "ABC"]
    with db.session() as session:  # flag the first and third whatever the tiny model said
        for doc, flag in zip(docs, (True, False, True), strict=True):
            prediction = queries.get_prediction(session, queries.get_document(session, doc["id"]).prediction_id)
            prediction.payload = dict(prediction.payload, needs_review=flag)
    flagged = [docs[0]["id"], docs[2]["id"]]
    worker = OpinionWorker(app.state.partnership.settings, db, mode="needs_review")  # not started: polled by hand
    worker.poll()
    assert [worker.queue.get_nowait()[0] for _ in range(worker.queue.qsize())] == flagged
    _store(db, docs[1]["id"], "A", "advice already there")
    everything = OpinionWorker(app.state.partnership.settings, db, mode="all", queue_size=1)
    assert everything.poll() == 1 and everything.queue.get_nowait()[0] == docs[0]["id"]
    assert everything.poll() == 1 and everything.queue.get_nowait()[0] == docs[2]["id"]  # nothing lost when full
    assert everything.poll() == 0  # the one with an opinion is skipped


@pytest.mark.parametrize("settings", [{**UNREACHABLE, "llm_review": "all"}], indirect=True, ids=["unreachable"])
def test_the_background_worker_stores_an_unreachable_llm_as_no_answer(client, submit, headers):
    doc = submit(TEXTS["D"])
    body = _wait_for_opinion(client, headers["reviewer"], doc["id"], timeout=30)
    opinion = body["llm_opinion"]
    assert opinion["label"] == "unknown" and "cannot reach" in opinion["error"]
    assert opinion["asked_by"] == "background" and opinion["classifier_label"] == doc["prediction"]["label"]
    assert "llm_opinion" not in body["prediction"]  # the prediction stays what `partnership classify` prints
    assert body["status"] == "predicted" and body["label"] == doc["prediction"]["label"]
    assert client.app.state.llm_opinions.done == 1


@pytest.mark.parametrize("settings", [UNREACHABLE], indirect=True, ids=["unreachable"])
def test_ask_the_llm_from_the_page_never_fails_the_request(client, submit, tokens, headers):
    doc = submit(TEXTS["B"])
    page_url = f"/ui/documents/{doc['id']}"
    csrf = _login(client, tokens["rui"])
    page = client.get(page_url)
    assert 'id="ask-llm"' in page.text and 'id="llm-none"' in page.text and "Background opinions are off" in page.text
    assert client.post(f"{page_url}/llm", data={"csrf": "forged"}).status_code == 403
    start = time.perf_counter()
    asked = client.post(f"{page_url}/llm", data={"csrf": csrf}, follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == f"{page_url}#llm"
    assert time.perf_counter() - start < 30
    page = client.get(page_url)
    assert page.status_code == 200 and "The LLM gave no answer" in page.text
    assert re.search(r'id="llm-agreement">\? no answer<', page.text) and "cannot reach" in page.text
    assert "Ask the LLM again" in page.text and "LLM advice: check every claim" in page.text
    body = client.get(f"/documents/{doc['id']}", headers=headers["reviewer"]).json()
    assert body["llm_opinion"]["label"] == "unknown" and body["llm_opinion"]["asked_by"] == "rui"
    assert body["status"] == "predicted" and body["label"] == doc["prediction"]["label"]
    history = client.get(f"/documents/{doc['id']}/history", headers=headers["reviewer"]).json()
    assert [e["actor"] for e in history if e["action"] == "llm_opinion"] == ["rui"]
    assert client.post("/ui/documents/999999/llm", data={"csrf": csrf}).status_code == 404
    client.cookies.clear()
    csrf = _login(client, tokens["ada"])  # a submitter may read the page but not ask
    assert 'id="ask-llm"' not in client.get(page_url).text
    assert client.post(f"{page_url}/llm", data={"csrf": csrf}).status_code == 403


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings",
    [{"llm_backend": "openai", "llm_model": "SmolLM2-135M-Instruct", "llm_timeout": 1.0, "sleepy": True}],
    indirect=True,
    ids=["sleepy"],
)
def test_a_slow_llm_times_out_into_no_answer(client, submit, tokens, headers):
    doc = submit(TEXTS["C"])
    csrf = _login(client, tokens["rui"])
    start = time.perf_counter()
    asked = client.post(f"/ui/documents/{doc['id']}/llm", data={"csrf": csrf}, follow_redirects=False)
    assert asked.status_code == 303 and time.perf_counter() - start < 15
    opinion = client.get(f"/documents/{doc['id']}", headers=headers["reviewer"]).json()["llm_opinion"]
    assert opinion["label"] == "unknown" and "BackendTimeout" in opinion["error"]


@pytest.mark.slow
@pytest.mark.parametrize("settings", [{"llm_backend": "local", "llm_review": "all"}], indirect=True, ids=["local"])
def test_a_real_local_opinion_is_stored_in_the_background_and_shown_beside_the_prediction(
    client, submit, tokens, headers
):
    doc = submit(TEXTS["E"])
    predicted = doc["prediction"]["label"]
    body = _wait_for_opinion(client, headers["reviewer"], doc["id"], timeout=240)
    opinion = body["llm_opinion"]
    assert opinion["backend"] == "local.v1" and opinion["model"] == "SmolLM2-135M-Instruct"
    assert opinion["method"] == "score" and opinion["classifier_label"] == predicted and opinion["latency_ms"] > 0
    assert opinion["label"] in LABELS, opinion  # scoring always yields a letter; only the rationale may be short
    assert opinion["agrees_with_classifier"] == (opinion["label"] == predicted)
    assert body["status"] == "predicted" and body["label"] == predicted  # advice never changes the label
    _login(client, tokens["rui"])
    page = client.get(f"/ui/documents/{doc['id']}").text
    mark = "✓ agrees" if opinion["agrees_with_classifier"] else "✗ disagrees"
    assert f'id="llm-agreement">{mark} with the classifier ({predicted})<' in page
    assert "near chance" in page and "accuracy 0.23 and macro-F1 0.13" in page
    if opinion["rationale"]:
        assert html.escape(opinion["rationale"], quote=False) in page
    queue = client.get("/ui/queue").text
    assert ("llm-agrees" if opinion["agrees_with_classifier"] else "llm-disagrees") in queue


def test_the_rationale_renders_as_text_with_the_agreement_marks(client, submit, db, tokens):
    disagree, agree, silent = submit(TEXTS["A"]), submit(TEXTS["D"]), submit(TEXTS["E"])
    hostile = '<script>alert("owned")</script> & <img src=x onerror=alert(1)> the city pays'
    _store(db, disagree["id"], _other(disagree["prediction"]["label"]), hostile)
    _store(db, agree["id"], agree["prediction"]["label"], "Velmora's works department pays for the lamps.")
    _login(client, tokens["rui"])
    page = client.get(f"/ui/documents/{disagree['id']}").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in page
    assert f'id="llm-agreement">✗ disagrees with the classifier ({disagree["prediction"]["label"]})<' in page
    assert 'id="accept-llm"' in page and "near chance" in page
    page = client.get(f"/ui/documents/{agree['id']}").text
    assert f'id="llm-agreement">✓ agrees with the classifier ({agree["prediction"]["label"]})<' in page
    assert 'id="accept-llm"' not in page  # the classifier's Accept button already offers that label
    rows = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r'href="/ui/documents/(\d+)">.*?</td>(.*?)</tr>', client.get("/ui/queue").text, re.S)
    }
    assert "llm-disagrees" in rows[disagree["id"]] and "llm-agrees" in rows[agree["id"]]
    assert "llm-mark" not in rows[silent["id"]]


def test_an_llm_label_reaches_training_data_only_through_a_review(client, submit, db, tokens, settings):
    ignored, accepted = submit(TEXTS["B"]), submit(TEXTS["C"])
    for doc in (ignored, accepted):
        _store(db, doc["id"], _other(doc["prediction"]["label"]), "The round table only advises the mayor.")
    csrf = _login(client, tokens["rui"])
    page = client.get(f"/ui/documents/{accepted['id']}").text
    button = re.search(r'<button type="submit" form="review-form" name="label" value="([A-E])" id="accept-llm"', page)
    llm_label = button.group(1)
    assert llm_label == _other(accepted["prediction"]["label"])
    form = {"csrf": csrf, "version": "1", "label": llm_label, "testbed": "no", "international": "none"}
    done = client.post(f"/ui/documents/{accepted['id']}/review", data=form, follow_redirects=False)
    assert done.status_code == 303
    with db.sessions() as session:
        reviews = queries.accepted_reviews(session)
    dataset, counts = build_dataset(settings, reviews)
    added = {i: label for i, label in zip(dataset["train"]["id"], dataset["train"]["label"], strict=True)}
    assert f"review-{ignored['id']}" not in added  # an LLM opinion without a review is not training data
    names = dataset["train"].features["label"]
    label_of = names.int2str if hasattr(names, "int2str") else (lambda x: x)
    assert label_of(added[f"review-{accepted['id']}"]) == llm_label  # the reviewer accepted the LLM's label
    assert counts["reviews"] == 1
