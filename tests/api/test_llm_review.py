"""The LLM's second opinion on the review page (issue 7): computed in the background and on demand, stored in
the prediction's payload, shown escaped beside the prediction with an agreement mark, never a failed request,
and never training data unless a reviewer accepts it. "Ask the LLM" is queued: the button returns at once, the
page shows the question waiting and then the answer, a document is queued once, the lane is bounded, and a
restart drops a waiting question, which the page then says."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.jobs.opinions import OpinionWorker, agreement, review_mode, wanted
from api.jobs.retrain import build_dataset
from api.settings import Settings
from api.store import queries
from classifier.taxonomy import LABELS
from tests.api.conftest import auth
from tests.api.test_pages import _login
from tests.classifier.test_llm import _start_server, _stop
from tests.conftest import TEXTS

UNREACHABLE = {"llm_backend": "openai", "llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "some-model"}
BLOCKING = {"llm_backend": "openai", "llm_model": "blocking", "llm_timeout": 120.0, "blocking": True}
BLOCKING_ANSWER = {"label": "D", "rationale": "The jointly owned company builds and runs the district for 30 years."}


class BlockingLLM:
    """A real OpenAI-compatible endpoint on loopback whose answers wait until the test calls ``release()``,
    so a test knows the LLM could not have answered yet without measuring any time."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.received = 0  # chat completions asked for
        self.answered = 0  # and answered
        self._changed = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send({"object": "list", "data": [{"id": "blocking", "object": "model"}]})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner._changed:
                    owner.received += 1
                    owner._changed.notify_all()
                owner.released.wait(120)
                content = json.dumps(BLOCKING_ANSWER)
                self._send({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})
                with owner._changed:
                    owner.answered += 1
                    owner._changed.notify_all()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_received(self, count: int, timeout: float = 60.0) -> None:
        """Until ``count`` questions reached the endpoint (the worker is inside the LLM call)."""
        with self._changed:
            assert self._changed.wait_for(lambda: self.received >= count, timeout), (self.received, count)

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def blocking_llm_server() -> Iterator[BlockingLLM]:
    llm = BlockingLLM()
    try:
        yield llm
    finally:
        llm.close()


@pytest.fixture
def blocking_llm() -> Iterator[BlockingLLM]:
    with blocking_llm_server() as llm:
        yield llm


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
    if overrides.pop("blocking", False):
        overrides["llm_base_url"] = request.getfixturevalue("blocking_llm").url
    return settings.model_copy(update=overrides)


def _wait_for_opinion(client, headers, document_id: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/documents/{document_id}", headers=headers).json()
        if body.get("llm_opinion"):
            return body
        time.sleep(0.5)
    raise AssertionError(f"no LLM opinion for document {document_id} within {timeout} s")


def _settled_panel(client, document_id: int, timeout: float = 60) -> str:
    """The document's LLM panel (as the page's script fetches it) once no question is waiting any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        panel = client.get(f"/ui/documents/{document_id}?panel=llm")
        assert panel.status_code == 200, panel.text
        if "data-poll=" not in panel.text:
            return panel.text
        time.sleep(0.3)
    raise AssertionError(f"the question about document {document_id} was still waiting after {timeout} s")


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
    asked = client.post(f"{page_url}/llm", data={"csrf": csrf}, follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == f"{page_url}#llm"
    _settled_panel(client, doc["id"])
    page = client.get(page_url)
    assert page.status_code == 200 and 'id="llm-waiting"' not in page.text and 'id="llm-unanswered"' not in page.text
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
    asked = client.post(f"/ui/documents/{doc['id']}/llm", data={"csrf": csrf}, follow_redirects=False)
    assert asked.status_code == 303
    opinion = _wait_for_opinion(client, headers["reviewer"], doc["id"], timeout=60)["llm_opinion"]
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


def _hhmm(stamp: str) -> str:
    return stamp[11:16]


@pytest.mark.parametrize("settings", [BLOCKING], indirect=True, ids=["blocking"])
def test_asking_returns_at_once_the_page_shows_the_question_waiting_then_the_answer(
    client, submit, tokens, headers, blocking_llm
):
    doc = submit(TEXTS["D"])
    page_url = f"/ui/documents/{doc['id']}"
    csrf = _login(client, tokens["rui"])
    asked = client.post(f"{page_url}/llm", data={"csrf": csrf}, follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == f"{page_url}#llm"
    blocking_llm.wait_received(1)  # the LLM has the question and cannot answer until released
    assert blocking_llm.answered == 0  # so the button came back before the LLM could have answered
    pending = client.app.state.llm_opinions.pending(doc["id"])
    assert pending is not None and pending[0].asked_by == "rui" and pending[1] is None  # being answered now
    at = _hhmm(pending[0].stamp)
    page = client.get(page_url).text
    assert f"Asked the LLM at {at} UTC" in page  # the flash
    assert f'id="llm-waiting"><span class="spinner" aria-hidden="true"></span>Asked at {at} UTC by rui' in page
    assert f'data-poll="/ui/documents/{doc["id"]}?panel=llm"' in page and 'id="ask-llm"' not in page
    assert "it is answering now" in page and 'id="llm-none"' not in page
    panel = client.get(f"{page_url}?panel=llm")  # what the page's script fetches
    assert panel.status_code == 200 and panel.headers["cache-control"] == "no-store"
    assert panel.text.lstrip().startswith("<section") and "<html" not in panel.text and 'id="llm-waiting"' in panel.text
    assert "Asked the LLM at" not in panel.text  # the fragment leaves the flash alone

    again = client.post(f"{page_url}/llm", data={"csrf": csrf})  # the same reviewer asks again
    assert (
        again.status_code == 200
        and f"Already asked at {at} UTC by rui" in again.text
        and "not asked twice" in again.text
    )
    other = TestClient(client.app)  # and so does another reviewer
    other_csrf = _login(other, tokens["rita"])
    assert "not asked twice" in other.post(f"{page_url}/llm", data={"csrf": other_csrf}).text

    blocking_llm.release()
    panel = _settled_panel(client, doc["id"])
    assert 'id="llm-waiting"' not in panel and 'id="llm-unanswered"' not in panel and 'id="ask-llm"' in panel
    assert 'id="llm-agreement"' in panel and html.escape(BLOCKING_ANSWER["rationale"], quote=False) in panel
    body = client.get(f"/documents/{doc['id']}", headers=headers["reviewer"]).json()
    opinion = body["llm_opinion"]
    assert opinion["label"] == "D" and opinion["asked_by"] == "rui" and opinion["asked_at"] == pending[0].stamp
    assert opinion["backend"] == "openai.v1" and opinion["classifier_label"] == doc["prediction"]["label"]
    assert body["status"] == "predicted" and body["label"] == doc["prediction"]["label"]
    assert blocking_llm.received == 1  # asked three times, queued once
    assert client.app.state.llm_opinions.answered == 1
    history = client.get(f"/documents/{doc['id']}/history", headers=headers["reviewer"]).json()
    assert [e["actor"] for e in history if e["action"] == "llm_opinion"] == ["rui"]
    page = client.get(page_url).text
    assert "Ask the LLM again" in page and "data-poll" not in page


SMALL_LANE = BLOCKING | {"llm_ask_queue_size": 2, "llm_ask_per_user": 2}  # the real worker, a small lane


@pytest.mark.parametrize("settings", [SMALL_LANE], indirect=True, ids=["blocking"])
def test_the_lane_is_bounded_and_one_reviewer_cannot_fill_it(client, submit, tokens, blocking_llm):
    first, second, third = (submit(TEXTS[label]) for label in "ABC")
    worker = client.app.state.llm_opinions
    assert (worker.ask_queue_size, worker.ask_per_user) == (2, 2)  # from the settings
    csrf = _login(client, tokens["rui"])
    for doc in (first, second):
        assert client.post(f"/ui/documents/{doc['id']}/llm", data={"csrf": csrf}).status_code == 200
    blocking_llm.wait_received(1)
    assert worker.pending(second["id"])[1] == 1  # one question before it
    assert "1 question before it" in client.get(f"/ui/documents/{second['id']}?panel=llm").text
    refused = client.post(f"/ui/documents/{third['id']}/llm", data={"csrf": csrf})
    assert refused.status_code == 200 and "You already have 2 questions waiting for the LLM: not asked" in refused.text
    other = TestClient(client.app)
    other_csrf = _login(other, tokens["rita"])
    refused = other.post(f"/ui/documents/{third['id']}/llm", data={"csrf": other_csrf})
    assert "The LLM already has 2 questions waiting: not asked" in refused.text
    assert worker.pending(third["id"]) is None and 'id="ask-llm"' in refused.text  # nothing queued, button still there
    blocking_llm.release()
    for doc in (first, second):
        assert 'id="llm-agreement"' in _settled_panel(client, doc["id"])
    assert blocking_llm.received == 2 and worker.answered == 2
    assert 'id="llm-none"' in client.get(f"/ui/documents/{third['id']}?panel=llm").text  # never asked


@pytest.mark.parametrize("settings", [BLOCKING], indirect=True, ids=["blocking"])
def test_a_restart_drops_a_waiting_question_and_the_page_says_so(client, submit, tokens, headers, blocking_llm):
    doc = submit(TEXTS["E"])
    page_url = f"/ui/documents/{doc['id']}"
    csrf = _login(client, tokens["rui"])
    client.post(f"{page_url}/llm", data={"csrf": csrf})
    blocking_llm.wait_received(1)
    old = client.app.state.llm_opinions
    at = _hhmm(old.pending(doc["id"])[0].stamp)
    old.close(timeout=0.1)  # what the old process's shutdown does; its memory (the waiting question) is gone
    restarted = create_app(client.app.state.partnership.settings)  # same database, var dir and session secret
    with TestClient(restarted, cookies=client.cookies) as browser:
        page = browser.get(page_url)
        assert page.status_code == 200 and 'id="llm-waiting"' not in page.text and "data-poll" not in page.text
        assert f"You asked at {at} UTC, but the LLM did not answer" in page.text and 'id="ask-llm"' in page.text
        blocking_llm.release()  # the old worker gets its answer late, and stores nothing
        old._thread.join(30)
        assert not old._thread.is_alive() and old.answered == 0
        assert client.get(f"/documents/{doc['id']}", headers=headers["reviewer"]).json()["llm_opinion"] is None
        assert browser.post(f"{page_url}/llm", data={"csrf": csrf}).status_code == 200  # asked again: answered
        panel = _settled_panel(browser, doc["id"])
        assert 'id="llm-agreement"' in panel and 'id="llm-unanswered"' not in panel
    assert blocking_llm.received == 2


@pytest.mark.parametrize("settings", [UNREACHABLE], indirect=True, ids=["unreachable"])
def test_asking_needs_a_login_a_reviewer_and_the_csrf_token(client, submit, tokens):
    doc = submit(TEXTS["A"])
    page_url = f"/ui/documents/{doc['id']}"
    worker = client.app.state.llm_opinions
    anonymous = TestClient(client.app, follow_redirects=False)
    login_csrf = re.search(r'name="csrf" value="([^"]+)"', anonymous.get("/ui/login").text).group(1)
    answer = anonymous.post(f"{page_url}/llm", data={"csrf": login_csrf})  # a session, but nobody logged in
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login?next=")
    answer = anonymous.get(f"{page_url}?panel=llm")
    assert (
        answer.status_code == 303
        and answer.headers["location"] == f"/ui/login?next=%2Fui%2Fdocuments%2F{doc['id']}%3Fpanel%3Dllm"
    )
    assert anonymous.post(f"{page_url}/llm", data={"csrf": "forged"}).status_code == 403
    submitter = TestClient(client.app)
    csrf = _login(submitter, tokens["ada"])
    refused = submitter.post(f"{page_url}/llm", data={"csrf": csrf})
    assert refused.status_code == 403 and "role 'submitter' may not ask the LLM" in refused.text
    assert worker.pending(doc["id"]) is None and worker.answered == 0
    assert client.get(f"/documents/{doc['id']}", headers=auth(tokens["rui"])).json()["llm_opinion"] is None
