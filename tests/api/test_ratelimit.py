"""The per-token rate limit: a token bucket per API token, page login or (without a valid token) client IP;
429 with ``Retry-After`` once a key's minute is used up; configurable, 0 switches it off."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.ratelimit import TokenBucket
from api.settings import Settings
from tests.api.conftest import auth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_minute_of_requests_then_says_how_long_to_wait():
    clock = Clock()
    bucket = TokenBucket(3, clock)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(20.0)  # 3 per minute: one every 20 s
    assert bucket.take("b") == 0.0  # another key has its own bucket
    clock.now += 10
    assert bucket.take("a") == pytest.approx(10.0)
    clock.now += 10
    assert bucket.take("a") == 0.0
    assert all(TokenBucket(0, clock).take("a") == 0.0 for _ in range(1000))  # 0 = no limit


def test_settings_come_from_the_environment(monkeypatch):
    assert Settings().rate_limit_per_minute == 600 and Settings().rate_limit_ip_per_minute == 600
    monkeypatch.setenv("PARTNERSHIP_RATE_LIMIT_PER_MINUTE", "7")
    monkeypatch.setenv("PARTNERSHIP_RATE_LIMIT_IP_PER_MINUTE", "0")
    assert Settings().rate_limit_per_minute == 7 and Settings().rate_limit_ip_per_minute == 0
    monkeypatch.setenv("PARTNERSHIP_RATE_LIMIT_PER_MINUTE", "-1")
    with pytest.raises(ValueError):
        Settings()


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"rate_limit_per_minute": 5, "rate_limit_ip_per_minute": 3})


def test_each_token_gets_its_own_minute_then_429_with_retry_after(client, headers):
    codes = [client.get("/documents", headers=headers["reviewer"]).status_code for _ in range(5)]
    assert codes == [200] * 5
    limited = client.get("/documents", headers=headers["reviewer"])
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["detail"].startswith("rate limit exceeded for this API token")
    assert client.get("/documents", headers=headers["submitter"]).status_code == 200  # another token: unaffected
    assert client.get("/health").status_code == 200  # and so is the address, for requests without a token
    metrics = client.get("/metrics").text
    assert re.search(r'partnership_http_requests_total\{[^}]*status="429"[^}]*\} 1$', metrics, re.M), metrics


def test_requests_without_a_valid_token_share_the_address_limit(client, headers):
    codes = [client.get("/documents", headers=auth(f"guess-{i}")).status_code for i in range(3)]
    assert codes == [401, 401, 401]  # every unknown token counts against the same address
    assert client.get("/documents", headers=auth("guess-4")).status_code == 429
    assert client.get("/health").status_code == 429  # no token at all: the same bucket
    assert client.get("/documents", headers=headers["admin"]).status_code == 200  # a valid token is its own key


def test_a_page_login_is_limited_per_user(app, tokens):
    browser = TestClient(app, follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/ui/login").text).group(1)
    assert browser.post("/ui/login", data={"token": tokens["rui"], "csrf": csrf}).status_code == 303
    codes = [browser.get("/ui/queue").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]


def test_429_is_in_the_openapi_of_every_operation(client):
    schema = client.get("/openapi.json").json()
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert operations and all("429" in op["responses"] for op in operations)
    assert schema["paths"]["/documents"]["post"]["responses"]["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }
