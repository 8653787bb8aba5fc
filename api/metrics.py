"""Prometheus text-format metrics without a client library: requests, latency, predictions, queue size.

A plain ASGI middleware times every request by its route template (``/documents/{document_id}``,
not the raw path, so the number of series stays small).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable

__all__ = ["BUCKETS", "Metrics", "MetricsMiddleware"]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**values: str) -> str:
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in values.items()) + "}"


class Metrics:
    """Counters and one latency histogram, safe to update from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency_buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.latency_count: dict[str, int] = defaultdict(int)
        self.predictions: dict[tuple[str, str], int] = defaultdict(int)
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            buckets = self.latency_buckets[route]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self.latency_sum[route] += seconds
            self.latency_count[route] += 1

    def observe_prediction(self, label: str, model_version: str) -> None:
        with self._lock:
            self.predictions[(label, model_version)] += 1

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A value read at scrape time (e.g. the review queue size from the database)."""
        self.gauges[name] = (help_text, read)

    def render(self) -> str:
        lines = [
            "# HELP partnership_http_requests_total HTTP requests by method, route and status.",
            "# TYPE partnership_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(f"partnership_http_requests_total{_labels(method=method, route=route, status=status)} {n}")
            lines += [
                "# HELP partnership_http_request_duration_seconds Request latency by route.",
                "# TYPE partnership_http_request_duration_seconds histogram",
            ]
            for route in sorted(self.latency_count):
                for bound, n in zip(BUCKETS, self.latency_buckets[route], strict=True):
                    lines.append(
                        f"partnership_http_request_duration_seconds_bucket{_labels(route=route, le=str(bound))} {n}"
                    )
                count = self.latency_count[route]
                lines.append(
                    f"partnership_http_request_duration_seconds_bucket{_labels(route=route, le='+Inf')} {count}"
                )
                lines.append(
                    f"partnership_http_request_duration_seconds_sum{_labels(route=route)} {self.latency_sum[route]:.6f}"
                )
                lines.append(f"partnership_http_request_duration_seconds_count{_labels(route=route)} {count}")
            lines += [
                "# HELP partnership_predictions_total Predictions made, by label and model version.",
                "# TYPE partnership_predictions_total counter",
            ]
            for (label, version), n in sorted(self.predictions.items()):
                lines.append(f"partnership_predictions_total{_labels(label=label, model=version)} {n}")
        for name, (help_text, read) in sorted(self.gauges.items()):
            try:
                value = float(read())
            except Exception:  # a scrape must not fail because one source is down
                continue
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Times each HTTP request and counts it under its route template."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            if template.startswith("/static"):
                template = "/static"
            self.metrics.observe_request(scope["method"], template, status["code"], time.perf_counter() - started)
