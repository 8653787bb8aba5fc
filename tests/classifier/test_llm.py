"""LLM assistance: parsing and validation, retry and unknown paths, the real local model, and the
OpenAI-compatible backend against a real HTTP server process on loopback (classifier.llm.serve)."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from classifier.llm import (
    Adviser,
    AnswerError,
    Backend,
    BackendTimeout,
    LLMOpinion,
    available_backends,
    create_backend,
    parse_answer,
    register_backend,
    review_opinion,
)
from classifier.llm.prompt import label_messages, letter_messages, rationale_messages
from classifier.llm.registry import resolve_name
from classifier.pipeline import Prediction
from classifier.taxonomy import LABELS, MODELS
from tests.conftest import TEXTS

ROOT = Path(__file__).resolve().parents[2]
VALID = '{"label": "D", "rationale": "Pretoria East Development Company is jointly owned for thirty years."}'


# -- parsing and validation on crafted strings ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        (VALID, "D"),
        ("```json\n" + VALID + "\n```", "D"),
        ("Sure! Here is my answer:\n" + VALID + "\nHope this helps.", "D"),
        ('{"Label": "model c", "Rationale": "The city and Nordvolt each invest 4 million euros."}', "C"),
        ('{"label": "Public-Private SPC", "rationale": "A jointly owned company runs the district."}', "D"),
        ('{"label": "E) Private-Led Model", "rationale": "Parcelia finances and runs the lockers."}', "E"),
        ('{"label": "a", "rationale": ["the council pays", "Lumatek is a contractor"]}', "A"),
        ('{"note": "{not json}"} then {"label": "B", "rationale": "The round table only advises the mayor."}', "B"),
    ],
)
def test_parse_answer_accepts_valid_answers_in_their_usual_wrappings(text, label):
    answer = parse_answer(text)
    assert answer.label == label and len(answer.rationale) >= 12


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("The answer is D because the company is jointly owned.", "no JSON object"),
        ('{"label": "F", "rationale": "There is no sixth partnership model at all."}', "label"),
        ('{"label": "D", "rationale": "ok"}', "rationale"),
        ('{"label": "D"}', "rationale"),
        ('{"label": "D", "rationale": "truncated because the model ran out of tok', "no JSON object"),
        ('["D", "a list is not an answer object"]', "no JSON object"),
        ('{"label": "A or D", "rationale": "Either the city leads or a company is formed."}', "label"),
    ],
)
def test_parse_answer_rejects_invalid_answers_with_a_reason(text, reason):
    with pytest.raises(AnswerError, match=reason):
        parse_answer(text)


def test_prompts_carry_the_taxonomy_the_stakeholders_and_the_document():
    stakeholders = [
        {"name": "Nordvolt", "type": "private", "role": "investor"},
        {"text": "Karsholm", "type": "government"},
    ]
    system, user = label_messages(TEXTS["C"], stakeholders)
    for m in MODELS:
        assert m.definition in system["content"] and m.name in system["content"]
    assert '"label"' in system["content"] and '"rationale"' in system["content"]
    assert "- Nordvolt (private, investor)" in user["content"] and "- Karsholm (government, ?)" in user["content"]
    assert TEXTS["C"][:80] in user["content"]
    strict = label_messages(TEXTS["C"], stakeholders, strict=True)[0]["content"]
    assert "exactly one JSON object" in strict
    long = letter_messages("x" * 5000, [])[1]["content"]
    assert "x" * 2000 in long and "x" * 2001 not in long
    assert "- none extracted" in letter_messages(TEXTS["A"], None)[1]["content"]
    assert "classified as E, Private-Led Model." in rationale_messages(TEXTS["E"], [], "E")[1]["content"]


def test_registry_names_backends_by_version():
    assert {"local.v1", "openai.v1"} <= set(available_backends())
    assert resolve_name("local") == "local.v1" and resolve_name("openai.v1") == "openai.v1"
    with pytest.raises(ValueError, match="unknown LLM backend"):
        resolve_name("nonsense")
    with pytest.raises(ValueError, match="look like"):
        register_backend("unversioned")


# -- retry and unknown paths with a scripted backend (a real Backend subclass) -----------------------


class Scripted(Backend):
    """Answers from a list (an exception in the list is raised); records the messages it was sent."""

    def __init__(self, replies=(), scores=None, delay: float = 0.0) -> None:
        self.replies = list(replies)
        self.scores = scores or {}
        self.delay = delay
        self.sent: list[list[dict]] = []
        self.name = "scripted.v1"

    @property
    def model(self) -> str:
        return "scripted"

    def chat(self, messages, *, max_tokens=160, timeout=60.0):
        self.sent.append(list(messages))
        time.sleep(self.delay)
        reply = self.replies.pop(0) if self.replies else VALID
        if isinstance(reply, Exception):
            raise reply
        return reply

    def score(self, messages, options, *, timeout=60.0):
        content = messages[-1]["content"]
        key = "prior" if "Document:\nN/A\n" in content else "doc"
        return dict(self.scores[key])


def test_valid_first_answer_needs_one_call():
    backend = Scripted([VALID])
    opinion = Adviser(backend, extractor=None, method="generate").prelabel(TEXTS["D"])
    assert (opinion.label, opinion.attempts, opinion.error) == ("D", 1, None)
    assert opinion.backend == "scripted.v1" and opinion.model == "scripted" and opinion.latency_ms >= 0
    assert opinion.agrees_with_classifier is None and len(backend.sent) == 1


def test_invalid_answer_gets_one_stricter_retry():
    backend = Scripted(["I think it is D.", VALID])
    opinion = Adviser(backend, extractor=None, method="generate").prelabel(TEXTS["D"])
    assert (opinion.label, opinion.attempts) == ("D", 2)
    assert "exactly one JSON object" not in backend.sent[0][0]["content"]
    assert "exactly one JSON object" in backend.sent[1][0]["content"]


def test_invalid_twice_is_unknown_with_both_reasons():
    backend = Scripted(["I think it is D.", '{"label": "Z", "rationale": "no such model in the taxonomy"}', VALID])
    opinion = Adviser(backend, extractor=None, method="generate").prelabel(TEXTS["D"])
    assert opinion.label == "unknown" and opinion.attempts == 2 and len(backend.sent) == 2
    assert "invalid answer twice" in opinion.error and "no JSON object" in opinion.error and "label" in opinion.error


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(BackendTimeout("no answer within 1 s"), "BackendTimeout"), (RuntimeError("boom"), "unexpected RuntimeError")],
)
def test_backend_failures_become_unknown_opinions(failure, reason):
    opinion = Adviser(Scripted([failure]), extractor=None, method="generate").prelabel(TEXTS["A"])
    assert opinion.label == "unknown" and reason in opinion.error


def test_a_failing_extractor_or_document_never_raises():
    def broken(texts):
        raise OSError("spaCy model missing")

    adviser = Adviser(Scripted([VALID]), extractor=broken, method="generate")
    assert adviser.prelabel(TEXTS["D"]).label == "D"
    assert adviser.prelabel(12345).label == "unknown"


def test_second_opinion_marks_agreement_and_reuses_the_predictions_stakeholders():
    prediction = Prediction(
        id="doc-1",
        label="D",
        label_name="Public-Private SPC",
        confidence=0.41,
        probabilities=dict.fromkeys(LABELS, 0.2),
        needs_review=True,
        stakeholders=[{"name": "Pretoria East Development Company", "type": "private", "role": "operator"}],
        model_version="tiny",
    )
    backend = Scripted([VALID, VALID.replace('"D"', '"C"'), RuntimeError("down")])
    adviser = Adviser(backend, extractor=None, method="generate")
    agree = review_opinion(TEXTS["D"], prediction, adviser)
    assert agree.agrees_with_classifier is True and agree.classifier_label == "D"
    assert "Pretoria East Development Company (private, operator)" in backend.sent[0][1]["content"]
    assert adviser.second_opinion(TEXTS["D"], prediction).agrees_with_classifier is False
    unknown = adviser.second_opinion(TEXTS["D"], prediction.model_dump())
    assert unknown.label == "unknown" and unknown.agrees_with_classifier is None
    assert LLMOpinion.model_validate_json(unknown.model_dump_json()) == unknown


def test_a_batch_keeps_order_and_survives_failures():
    backend = Scripted([VALID, RuntimeError("down"), VALID.replace('"D"', '"E"')])
    adviser = Adviser(backend, extractor=None, method="generate", concurrency=1)
    seen = []
    opinions = adviser.opinions([TEXTS["D"], TEXTS["A"], TEXTS["E"]], progress=lambda d, t: seen.append((d, t)))
    assert [o.label for o in opinions] == ["D", "unknown", "E"]
    assert seen[-1] == (3, 3)


def test_the_semaphore_limits_calls_and_waiting_counts_against_the_timeout():
    adviser = Adviser(Scripted(delay=1.0), extractor=None, method="generate", concurrency=1, timeout=0.3)
    results = []
    threads = [threading.Thread(target=lambda: results.append(adviser.prelabel(TEXTS["D"]))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.label for o in results) == ["D", "unknown"]
    assert "slots busy" in next(o.error for o in results if o.label == "unknown")


def test_scoring_is_calibrated_by_a_content_free_prior():
    scores = {
        "doc": {"A": -0.5, "B": -3.0, "C": -2.0, "D": -1.2, "E": -4.0},
        "prior": {"A": -0.2, "B": -3.0, "C": -3.0, "D": -3.0, "E": -3.0},
    }
    raw = Adviser(Scripted(scores=scores), extractor=None, method="score", calibrate=False, rationale=False)
    assert raw.prelabel(TEXTS["D"]).label == "A"
    calibrated = Adviser(Scripted(scores=scores), extractor=None, method="score", rationale=False)
    opinion = calibrated.prelabel(TEXTS["D"])
    assert opinion.label == "D" and opinion.method == "score" and opinion.rationale == ""
    assert math.isclose(sum(opinion.probabilities.values()), 1.0, abs_tol=1e-3)
    with_rationale = Adviser(
        Scripted(["It is jointly owned by the province and a pension fund."], scores=scores),
        extractor=None,
        method="score",
    )
    assert with_rationale.prelabel(TEXTS["D"]).rationale.startswith("It is jointly owned")


def test_adviser_from_settings_reads_the_llm_fields(monkeypatch, tmp_path):
    from api.settings import Settings

    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("LLM_MODEL", "some-model")
    monkeypatch.setenv("LLM_API_KEY", "secret")
    monkeypatch.setenv("PARTNERSHIP_LLM_TIMEOUT", "2.5")
    monkeypatch.setenv("PARTNERSHIP_LLM_CONCURRENCY", "3")
    settings = Settings(var_dir=tmp_path)
    assert settings.llm_base_url == "http://127.0.0.1:9/v1" and settings.llm_api_key.get_secret_value() == "secret"
    adviser = Adviser.from_settings(settings, backend="openai")
    assert adviser.backend.name == "openai.v1" and adviser.backend.model == "some-model"
    assert adviser.timeout == 2.5 and adviser.concurrency == 3 and adviser.method == "generate"
    opinion = adviser.prelabel("The city pays for everything.")  # nothing listens on port 9
    assert opinion.label == "unknown" and "cannot reach" in opinion.error


# -- the real local model -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def llm_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("llm-cache")


@pytest.fixture(scope="session")
def local(llm_cache):
    backend = create_backend("local", cache_dir=llm_cache)
    backend.loaded()  # converts the GGUF once and writes the cache the server process then reads
    return backend


SHORT = TEXTS["E"][:260]


@pytest.mark.slow
def test_local_backend_really_generates(local):
    start = time.perf_counter()
    completion = local.complete([{"role": "user", "content": "Name one European city."}], max_tokens=6)
    assert completion.text and 1 <= completion.completion_tokens <= 6
    assert completion.finish_reason in ("stop", "length") and completion.prompt_tokens > 5
    assert time.perf_counter() - start < 120  # seconds on a quiet machine; CI may share the cores
    scores = local.score(letter_messages(SHORT, [], max_chars=300), LABELS)
    assert set(scores) == set(LABELS) and all(math.isfinite(v) and v < 0 for v in scores.values())


@pytest.mark.slow
def test_real_model_output_goes_through_parsing_retry_and_unknown(local):
    class Recording(Backend):
        name = "local.v1"
        model = "SmolLM2-135M-Instruct"

        def __init__(self) -> None:
            self.replies: list[str] = []

        def chat(self, messages, *, max_tokens=160, timeout=60.0):
            self.replies.append(local.chat(messages, max_tokens=max_tokens, timeout=timeout))
            return self.replies[-1]

    recording = Recording()
    adviser = Adviser(recording, extractor=None, method="generate", max_new_tokens=12, max_chars=300, timeout=60)
    opinion = adviser.prelabel(SHORT)
    assert recording.replies and all(isinstance(r, str) for r in recording.replies)
    if opinion.label == "unknown" and "Timeout" not in opinion.error:  # (a very busy machine may time out)
        # Twelve tokens of SmolLM2 are no complete JSON answer: parsed, retried once, then unknown.
        assert opinion.attempts == 2 and len(recording.replies) == 2 and "invalid answer twice" in opinion.error
        for reply in recording.replies:
            with pytest.raises(AnswerError):
                parse_answer(reply)
    elif opinion.label != "unknown":
        assert parse_answer(recording.replies[-1]).label == opinion.label and opinion.rationale


@pytest.mark.slow
def test_local_timeout_is_an_unknown_opinion(local):
    adviser = Adviser(local, extractor=None, method="generate", timeout=0.05, max_chars=300)
    opinion = adviser.prelabel(SHORT)
    assert opinion.label == "unknown" and "BackendTimeout" in opinion.error


# -- the OpenAI-compatible backend against a real server process --------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(*args: str, ready_timeout: float = 180.0):
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "classifier.llm.serve", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", headers={"Authorization": "Bearer test-key"}, timeout=1).status_code < 500:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("server did not start in time")


def _stop(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def server(local, llm_cache):
    process, url = _start_server("--api-key", "test-key", "--cache-dir", str(llm_cache), "--preload")
    yield url
    _stop(process)


@pytest.fixture(scope="module")
def sleepy_server():
    process, url = _start_server("--delay", "30")
    yield url
    _stop(process)


@pytest.mark.slow
def test_server_speaks_the_chat_completions_protocol(server):
    headers = {"Authorization": "Bearer test-key"}
    models = httpx.get(f"{server}/models", headers=headers).json()
    assert models["object"] == "list" and models["data"][0]["id"] == "SmolLM2-135M-Instruct"
    body = {
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 4,
        "logprobs": True,
        "top_logprobs": 3,
    }
    reply = httpx.post(f"{server}/chat/completions", json=body, headers=headers, timeout=60).json()
    choice = reply["choices"][0]
    assert reply["object"] == "chat.completion" and choice["message"]["role"] == "assistant"
    assert 1 <= reply["usage"]["completion_tokens"] <= 4 and len(choice["logprobs"]["content"]) >= 1
    assert len(choice["logprobs"]["content"][0]["top_logprobs"]) == 3
    assert httpx.post(f"{server}/chat/completions", json=body, timeout=10).status_code == 401
    assert httpx.post(f"{server}/chat/completions", json={"messages": []}, headers=headers).status_code == 422


@pytest.mark.slow
def test_openai_backend_matches_the_local_model_through_http(server, local):
    remote = create_backend("openai", base_url=server, api_key="test-key")
    assert remote.name == "openai.v1" and remote.model == "SmolLM2-135M-Instruct"  # from GET /models
    messages = letter_messages(SHORT, [], max_chars=300)
    over_http, in_process = remote.score(messages, LABELS, timeout=60), local.score(messages, LABELS)
    best = max(in_process, key=in_process.get)
    assert max(over_http, key=over_http.get) == best
    assert abs(over_http[best] - in_process[best]) < 1e-3
    adviser = Adviser(remote, extractor=None, method="score", rationale=False, timeout=60)
    opinion = adviser.prelabel(SHORT)
    assert opinion.label in LABELS and set(opinion.probabilities) == set(LABELS)
    assert opinion.backend == "openai.v1" and opinion.error is None


@pytest.mark.slow
def test_openai_errors_become_unknown_opinions(server):
    wrong_key = Adviser(
        create_backend("openai", base_url=server, api_key="nope", model="SmolLM2-135M-Instruct"),
        extractor=None,
        method="generate",
    )
    assert "HTTP 401" in wrong_key.prelabel(SHORT).error
    wrong_model = Adviser(
        create_backend("openai", base_url=server, api_key="test-key", model="gpt-none"),
        extractor=None,
        method="generate",
    )
    opinion = wrong_model.prelabel(SHORT)
    assert opinion.label == "unknown" and "HTTP 404" in opinion.error and opinion.model == "gpt-none"


@pytest.mark.slow
def test_a_sleeping_server_times_out_into_unknown_without_crashing_the_batch(sleepy_server):
    backend = create_backend("openai", base_url=sleepy_server, model="SmolLM2-135M-Instruct")
    adviser = Adviser(backend, extractor=None, method="generate", timeout=1.0, concurrency=2)
    start = time.perf_counter()
    opinions = adviser.opinions([TEXTS["A"], TEXTS["B"]])
    assert [o.label for o in opinions] == ["unknown", "unknown"]
    assert all("BackendTimeout" in o.error for o in opinions)
    assert time.perf_counter() - start < 10
