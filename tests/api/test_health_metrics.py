"""``/health`` and ``/metrics``: the database, the serving model, requests, latency, predictions, queue size."""

from __future__ import annotations

import re


def _value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{name}{{{wanted}}} missing"
    return float(match.group(1))


def test_health_reports_database_and_model(client, database_url):
    health = client.get("/health").json()
    expected_db = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert health == {"status": "ok", "database": expected_db, "model_version": "tiny-a", "extraction": False}


def test_metrics_count_requests_latency_predictions_and_queue(client, headers, submit):
    made = [submit(index=i) for i in range(3)]
    client.get("/documents/999999", headers=headers["reviewer"])
    client.post(f"/documents/{made[0]['id']}/review", json={"version": 1, "label": "A"}, headers=headers["reviewer"])
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _value(text, "partnership_http_requests_total", method="POST", route="/documents", status="201") == 3
    assert (
        _value(text, "partnership_http_requests_total", method="GET", route="/documents/{document_id}", status="404")
        == 1
    )
    count = _value(text, "partnership_http_request_duration_seconds_count", route="/documents")
    assert (
        count == 3
        and _value(text, "partnership_http_request_duration_seconds_bucket", route="/documents", le="+Inf") == 3
    )
    assert _value(text, "partnership_http_request_duration_seconds_sum", route="/documents") > 0
    per_label = {label: 0.0 for label in "ABCDE"}
    for doc in made:
        per_label[doc["label"]] += 1
    for label, n in per_label.items():
        if n:
            assert _value(text, "partnership_predictions_total", label=label, model="tiny-a") == n
    assert _value(text, "partnership_review_queue_size") == 2
    assert _value(text, "partnership_model_loaded") == 1
    assert "# TYPE partnership_http_request_duration_seconds histogram" in text
