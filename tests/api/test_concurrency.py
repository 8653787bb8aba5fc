"""16 concurrent submitters against the real server (subprocess) on each database: 0 errors, rows == 2xx.

The short version of ``bench/concurrency.py`` (16 x 60 s, figures in docs/reliability.md). Two reviewers on one
document (409 for the second) are in tests/api/test_review.py.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from api.store.tables import Document
from tests.api.test_crash import Server, auth, make_tokens

pytestmark = pytest.mark.slow

CLIENTS = 16
SECONDS = 10.0


def test_16_submitters_for_10_seconds_all_succeed_and_every_2xx_is_a_row(settings, tmp_path, corpus):
    tokens = make_tokens(settings)
    server = Server(settings, tmp_path / "server.log")
    server.start()
    ok: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def submitter(number: int) -> None:
        with httpx.Client(base_url=server.url, headers=auth(tokens["submitter"]), timeout=120) as client:
            n = number
            while time.monotonic() < deadline:
                body = {"text": corpus[n % len(corpus)].text, "city": f"C{number}"}
                n += CLIENTS
                try:
                    response = client.post("/documents", json=body)
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(repr(exc))
                    continue
                with lock:
                    if response.status_code == 201:
                        ok.append(response.json()["id"])
                    else:
                        errors.append(f"{response.status_code}: {response.text[:200]}")

    try:
        threads = [threading.Thread(target=submitter, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SECONDS + 180)
    finally:
        server.stop()
    engine = create_engine(settings.database)
    with engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(Document)).scalar_one()
        statuses = dict(connection.execute(select(Document.status, func.count()).group_by(Document.status)).all())
    engine.dispose()
    assert not errors, errors[:5]
    assert len(ok) >= CLIENTS  # every submitter got through at least once
    assert len(set(ok)) == len(ok) == rows  # each 2xx is exactly one stored row, no more, no fewer
    assert statuses == {"predicted": rows}  # and each was classified before its 201
