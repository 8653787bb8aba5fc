"""API contract fuzzing: schemathesis generates requests from the service's own OpenAPI schema, sends them to
a real uvicorn server (tiny model serving) with an admin token, and checks every answer against the schema.

Every operation the app has when the test runs is fuzzed (new routes included), positive and negative data,
``EXAMPLES`` cases each, derandomized so CI sees the same cases every run. Failures are collected (not
stopped at the first) so the assertion lists them all; the printed summary is what docs/reliability.md quotes.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.store import queries
from tests.api.live import serve

EXAMPLES = 25  # per operation and generation mode: about 1,000 requests, a few minutes on 2 busy cores
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
# A schema-valid submission may still be an unreadable document (HTML without text, a file that is no PDF):
# the schema cannot say so, so for these uploads a documented 415/422 is not a rejected valid request.
CONTENT_CHECKED = {"POST /documents": {415, 422}, "POST /batches": {415, 422}}

pytestmark = pytest.mark.slow


@pytest.fixture
def settings_(settings, tmp_path):
    """No rate limit (the fuzzer is one token sending hundreds of requests); retraining jobs fail fast."""
    return settings.model_copy(
        update={"rate_limit_per_minute": 0, "rate_limit_ip_per_minute": 0, "data_dir": tmp_path / "no-corpus"}
    )


@pytest.fixture
def app(settings_):
    from api.app import create_app

    return create_app(settings_)


def fuzz_operation(operation, mode: GenerationMode, headers: dict, counts: Counter, failures: list[str]) -> None:
    """``EXAMPLES`` cases of one operation in one mode; every failed check is appended to ``failures``."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        response = case.call(headers=headers, timeout=60)
        counts["requests"] += 1
        counts[f"{mode.value} {response.status_code // 100}xx"] += 1
        if response.status_code >= 500:
            counts["5xx"] += 1
        checks = list(CHECKS)
        if response.status_code in CONTENT_CHECKED.get(operation.label, set()):
            counts["unreadable documents refused"] += 1
        else:
            checks.append(positive_data_acceptance)
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # failed checks: keep going, report all of them
            counts["failed checks"] += 1
            lines = [line for line in str(exc).strip().splitlines() if line.strip()]
            failures.append(f"{mode.value} {operation.label} -> {response.status_code}: " + " | ".join(lines[:14]))

    try:
        run()
    except Unsatisfiable:  # e.g. no negative data exists for an operation without parameters
        counts["unsatisfiable"] += 1


def fuzz(schema, token: str) -> tuple[Counter, list[str], list[str]]:
    """Every operation in both modes; returns (counts, failures, operation labels)."""
    headers = {"Authorization": f"Bearer {token}"}
    counts: Counter = Counter()
    failures: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation.label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(operation, mode, headers, counts, failures)
    return counts, failures, operations


def test_every_operation_conforms_to_the_openapi_schema_under_fuzzing(app, corpus, capsys):
    with serve(app) as url:
        with app.state.partnership.db.session() as session:
            token = queries.create_user(session, "fuzz-admin", "admin")[1]
        import httpx

        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            for record in corpus[:3]:  # a few documents so that small ids exist
                assert client.post("/documents", json={"text": record.text}).status_code == 201
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        counts, failures, operations = fuzz(schema, token)
    with capsys.disabled():
        print(f"\nschemathesis: {len(operations)} operations, {EXAMPLES} examples per mode, {dict(counts)}")
        for failure in failures:
            print(failure[:1500])
    assert counts["requests"] >= len(operations) * 2, counts
    assert counts["5xx"] == 0, failures
    assert failures == [], "\n".join(failures)
