"""Crashes: the real server in a subprocess, SIGKILLed mid-work, then restarted on the same database and models.

- during retraining: the serving model is still the last promoted one, the
  half-trained version is neither listed nor served, the job is not left
  "running", and a new job can start;
- during a storm of submissions and review writes: every document and review the
  server acknowledged with a 2xx is in the database after the restart;
- a full disk (a small tmpfs holding the SQLite file): a clear 507, nothing half
  stored, ``PRAGMA integrity_check`` ok, and the service recovers once there is space.

Batch crashes (``POST /batches`` resumed after a SIGKILL) are in tests/api/test_batches.py.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from api.settings import ROOT, Settings
from api.store import queries
from api.store.db import Database
from api.store.tables import Document, Review

pytestmark = pytest.mark.slow


class Server:
    """``partnership serve`` as a subprocess over ``settings``; ``kill()`` is a SIGKILL (no cleanup at all)."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.process: subprocess.Popen | None = None
        self.url = ""

    def env(self) -> dict[str, str]:
        s = self.settings
        values = {
            "HF_HUB_OFFLINE": "1",
            "PARTNERSHIP_VAR_DIR": s.var_dir,
            "PARTNERSHIP_MODELS_DIR": s.models_dir,
            "PARTNERSHIP_DATABASE_URL": s.database,
            "PARTNERSHIP_EXTRACT": "false",
            "PARTNERSHIP_EXPLAIN_ON_SUBMIT": "false",
            "PARTNERSHIP_RETRAIN_EPOCHS": s.retrain_epochs,
            "PARTNERSHIP_RETRAIN_MAX_LENGTH": s.retrain_max_length,
            "PARTNERSHIP_RETRAIN_BATCH_SIZE": s.retrain_batch_size,
            "PARTNERSHIP_RETRAIN_FREEZE_LAYERS": s.retrain_freeze_layers,
            "PARTNERSHIP_RETRAIN_LEARNING_RATE": s.retrain_learning_rate,
            "PARTNERSHIP_RETRAIN_BASELINES": str(s.retrain_baselines).lower(),
            "PARTNERSHIP_RATE_LIMIT_PER_MINUTE": 0,  # these tests load the service on purpose
            "PARTNERSHIP_RATE_LIMIT_IP_PER_MINUTE": 0,
        }
        return {**os.environ, **{k: str(v) for k, v in values.items()}}

    def start(self, timeout: float = 180) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                command + ["--log-level", "warning"], cwd=ROOT, env=self.env(), stdout=log, stderr=log
            )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, f"server exited:\n{self.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"server did not come up:\n{self.log.read_text()[-3000:]}"
            time.sleep(0.2)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running(settings: Settings, log: Path) -> Iterator[Server]:
    server = Server(settings, log)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_tokens(settings: Settings) -> dict[str, str]:
    """Accounts in the (migrated) database before the server starts: role -> token."""
    db = Database(settings.database)
    db.upgrade()
    with db.session() as session:
        tokens = {role: queries.create_user(session, f"crash-{role}", role)[1] for role in queries.ROLES}
    db.dispose()
    return tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- retraining -------------------------------------------------------------------------------------------------


def test_sigkill_during_retraining_keeps_the_promoted_model_and_fails_the_job(settings, tmp_path):
    tokens = make_tokens(settings)
    admin = auth(tokens["admin"])
    log = tmp_path / "server.log"
    server = Server(settings, log)
    server.start()
    try:
        started = httpx.post(f"{server.url}/models/retrain", headers=admin, timeout=30)
        assert started.status_code == 202, started.text
        job = started.json()["id"]
        deadline = time.monotonic() + 120
        while httpx.get(f"{server.url}/models/jobs/{job}", headers=admin, timeout=30).json()["status"] != "running":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.2)
        time.sleep(3)  # into the corpus loading / fine-tuning
        assert httpx.get(f"{server.url}/models/jobs/{job}", headers=admin, timeout=30).json()["status"] == "running"
        # a half-written version, as a kill while train_version saves leaves it (staging folder, then rename)
        partial = settings.models_dir / ".v20991231-000000.partial"
        partial.mkdir()
        (partial / "partnership.json").write_text("{")
        server.kill()

        server.start()
        health = httpx.get(f"{server.url}/health", timeout=30).json()
        assert health["model_version"] == "tiny-a"  # the last promoted version serves
        models = httpx.get(f"{server.url}/models", headers=admin, timeout=30).json()
        assert models["serving"] == "tiny-a" and models["loaded"] == "tiny-a"
        assert {v["version"] for v in models["versions"]} == {"tiny-a", "tiny-b"}  # nothing half-trained listed
        assert not list(settings.models_dir.glob(".*.partial")), "the half-written version folder was left"
        record = httpx.get(f"{server.url}/models/jobs/{job}", headers=admin, timeout=30).json()
        assert record["status"] == "failed" and "interrupted" in record["error"], record
        again = httpx.post(f"{server.url}/models/retrain", headers=admin, timeout=30)
        assert again.status_code == 202, again.text  # not blocked by a ghost "running" job
    finally:
        server.stop()


# --- a storm of writes ------------------------------------------------------------------------------------------


def _storm(
    url: str, tokens: dict[str, str], corpus, stop: threading.Event, acked: dict, rng: random.Random
) -> list[threading.Thread]:
    """Submitters and reviewers until ``stop`` or the server dies; records what got a 2xx."""
    lock = threading.Lock()

    def submitter(number: int) -> None:
        with httpx.Client(base_url=url, headers=auth(tokens["submitter"]), timeout=60) as client:
            while not stop.is_set():
                marker = uuid.uuid4().hex
                body = {"text": f"{corpus[rng.randrange(len(corpus))].text} Ref {marker}.", "city": f"S{number}"}
                try:
                    response = client.post("/documents", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 201:
                    with lock:
                        acked["documents"][response.json()["id"]] = marker

    def reviewer() -> None:
        with httpx.Client(base_url=url, headers=auth(tokens["reviewer"]), timeout=60) as client:
            while not stop.is_set():
                with lock:
                    ids = list(acked["documents"])
                if not ids:
                    time.sleep(0.05)
                    continue
                document_id = rng.choice(ids)
                try:
                    version = client.get(f"/documents/{document_id}").json()["version"]
                    label = rng.choice("ABCDE")
                    response = client.post(
                        f"/documents/{document_id}/review", json={"version": version, "label": label, "comment": "s"}
                    )
                except (httpx.HTTPError, ValueError, KeyError):
                    return
                if response.status_code == 200:
                    with lock:
                        acked["reviews"].append((document_id, label, response.json()["version"]))

    threads = [threading.Thread(target=submitter, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=reviewer) for _ in range(2)]
    for thread in threads:
        thread.start()
    return threads


def test_sigkill_during_a_storm_of_submissions_and_reviews_loses_nothing_acknowledged(settings, tmp_path, corpus):
    tokens = make_tokens(settings)
    log = tmp_path / "server.log"
    server = Server(settings, log)
    server.start()
    acked: dict = {"documents": {}, "reviews": []}
    stop = threading.Event()
    try:
        threads = _storm(server.url, tokens, corpus, stop, acked, random.Random(8))
        deadline = time.monotonic() + 120
        while len(acked["reviews"]) < 10 or len(acked["documents"]) < 20:
            assert time.monotonic() < deadline, f"storm too slow: {len(acked['documents'])} documents acknowledged"
            time.sleep(0.1)
        server.kill()  # mid-flight: requests are in every stage
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        server.start()  # recovery runs at startup, on the same database
        assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200
    finally:
        stop.set()
        server.stop()

    engine = create_engine(settings.database)
    with engine.connect() as connection:
        stored = dict(connection.execute(select(Document.id, Document.text)).all())
        reviews = connection.execute(select(Review.document_id, Review.label)).all()
        versions = dict(connection.execute(select(Document.id, Document.version)).all())
    engine.dispose()
    for document_id, marker in acked["documents"].items():
        assert document_id in stored and marker in stored[document_id], f"acknowledged document {document_id} lost"
    for document_id, label, version in acked["reviews"]:
        assert (document_id, label) in {(r.document_id, r.label) for r in reviews}, f"review of {document_id} lost"
        assert versions[document_id] >= version
    if settings.database.startswith("sqlite"):
        path = settings.database.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- a full disk ------------------------------------------------------------------------------------------------


@contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A size-limited tmpfs at ``where`` (root only); the test is skipped where mounting is not allowed."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_gives_a_clear_507_keeps_the_database_consistent_and_recovers(settings, tmp_path, corpus):
    if not settings.database.startswith("sqlite"):
        pytest.skip("the full disk is simulated under the SQLite file")
    with small_tmpfs(tmp_path / "disk", "2m") as disk:
        database = disk / "full.db"
        full = settings.model_copy(update={"database_url": f"sqlite:///{database}"})
        tokens = make_tokens(full)
        headers = auth(tokens["submitter"])
        with running(full, tmp_path / "server.log") as server:
            created, answers = [], []
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
                for number in range(200):
                    text = " ".join(corpus[(number + i) % len(corpus)].text for i in range(60))  # ~60 KB each
                    response = client.post("/documents", json={"text": f"{text} N{number}", "city": "Full"})
                    answers.append(response)
                    if response.status_code == 201:
                        created.append(response.json()["id"])
                    elif len(answers) > len(created) + 3:
                        break
                refused = [r for r in answers if r.status_code != 201]
                assert refused, "the disk never filled"
                for response in refused:
                    assert response.status_code == 507, (response.status_code, response.text[:500])
                    assert "storage" in response.json()["detail"].lower() or "disk" in response.json()["detail"]
                    assert "Traceback" not in response.text
                assert client.get("/health").status_code in (200, 503)  # reading still answers
                # space is freed (the tmpfs grows): the same service takes submissions again, no restart
                subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
                again = client.post("/documents", json={"text": corpus[0].text, "city": "Full"})
                assert again.status_code == 201, again.text
                created.append(again.json()["id"])
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = [row[0] for row in connection.execute("SELECT id FROM documents ORDER BY id")]
            orphans = connection.execute(
                "SELECT count(*) FROM predictions WHERE document_id NOT IN (SELECT id FROM documents)"
            ).fetchone()[0]
        assert set(created) <= set(stored) and orphans == 0
