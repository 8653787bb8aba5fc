"""A per-token rate limit (429 with ``Retry-After``): an in-process token bucket, wired as ASGI middleware.

Why a bucket per key and not a global counter: one busy client must not starve
the others. Keys, in order: a known API token (by its sha256, never the token
itself), a page login (the session's user id), else the client IP, so random
or unknown tokens cannot buy a fresh bucket each. The buckets live in this
process: with several server processes each one limits on its own.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool

__all__ = ["RateLimitMiddleware", "TokenBucket"]

MAX_KEYS = 10_000  # beyond this, idle (full) buckets are forgotten
KNOWN_TOKEN_TTL = 30.0  # seconds a token found valid is keyed by itself without asking the database again


class TokenBucket:
    """``per_minute`` requests per key and minute, with bursts up to a minute's worth; thread-safe."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens added per second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 if the request may go ahead (one token taken), else the seconds until one is available."""
        if self.capacity <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > MAX_KEYS:
                    self._forget_idle(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * self.rate >= self.capacity:
                del self._buckets[key]


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class RateLimitMiddleware:
    """Answers 429 (JSON ``{"detail": ...}`` and ``Retry-After``) when the request's key has no tokens left.

    ``known_token(token)`` says whether a token belongs to an active user (a database read, done in a
    thread and remembered for ``KNOWN_TOKEN_TTL`` seconds when true). Sits inside the session middleware so
    that page logins are limited per user.
    """

    def __init__(
        self,
        app,
        *,
        per_token: int,
        per_ip: int,
        known_token: Callable[[str], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.tokens = TokenBucket(per_token, clock)
        self.ips = TokenBucket(per_ip, clock)
        self.known_token = known_token
        self.clock = clock
        self._known: dict[str, float] = {}

    async def _is_known(self, token: str, digest: str) -> bool:
        now = self.clock()
        if self._known.get(digest, -math.inf) > now:
            return True
        if await run_in_threadpool(self.known_token, token):
            if len(self._known) > MAX_KEYS:
                self._known.clear()
            self._known[digest] = now + KNOWN_TOKEN_TTL
            return True
        return False

    async def __call__(self, scope, receive, send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http" or (self.tokens.capacity <= 0 and self.ips.capacity <= 0):
            await self.app(scope, receive, send)
            return
        token = _bearer(scope.get("headers") or [])
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest() if token else None
        uid = (scope.get("session") or {}).get("uid") if "session" in scope else None
        if token and digest and await self._is_known(token, digest):
            wait, who = self.tokens.take(f"token:{digest}"), "this API token"
        elif uid and not token:
            wait, who = self.tokens.take(f"session:{uid}"), "this login"
        else:
            client = (scope.get("client") or ("unknown", 0))[0]
            wait, who = self.ips.take(f"ip:{client}"), "this address"
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        body = json.dumps({"detail": f"rate limit exceeded for {who}: retry in {retry} s"}).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode("ascii")),
                    (b"retry-after", str(retry).encode("ascii")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
