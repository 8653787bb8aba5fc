"""Batch uploads (POST /batches): classified in the background into the documents table and the review queue,
downloads, bad uploads refused with nothing stored, a SIGKILLed server resuming its batch with every document
exactly once; and two restart debts: interrupted retraining jobs, and submissions that waited for a model."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.jobs.retrain import INTERRUPTED
from api.store import queries
from api.store.db import Database
from api.store.tables import Batch, Document, Job, Prediction
from tests.api.conftest import auth, install_version
from training.registry import ModelRegistry

ROOT = Path(__file__).resolve().parents[2]


def wait_batch(client, headers: dict, batch_id: int, timeout: float = 120.0) -> dict:
    """Poll GET /batches/{id} until it is done, failed or cancelled."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/batches/{batch_id}", headers=headers).json()
        if body["status"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def jsonl(rows: list[dict]) -> bytes:
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def batch_counts(db: Database, batch_id: int) -> tuple[int, int, int]:
    """(documents, distinct keys, predictions) stored for a batch."""
    with db.session() as session:
        documents = session.scalar(select(func.count(Document.id)).where(Document.batch_id == batch_id))
        keys = session.scalar(
            select(func.count(func.distinct(Document.batch_key))).where(Document.batch_id == batch_id)
        )
        predictions = session.scalar(
            select(func.count(Prediction.id))
            .join(Document, Document.id == Prediction.document_id)
            .where(Document.batch_id == batch_id)
        )
    return documents, keys, predictions


def test_jsonl_batch_lands_in_documents_and_review_queue_uncertain_first(client, headers, db, corpus, submit):
    single = submit(index=30)  # a document that is not part of the batch
    rows = [
        {"id": f"doc-{i}", "text": r.text} | ({"city": "Arden"} if i % 3 == 0 else {})
        for i, r in enumerate(corpus[:14])
    ]
    body = jsonl(rows[:7]) + b"{this is not json\n" + jsonl(rows[7:]) + jsonl([{"id": "doc-0", "text": "again"}])
    response = client.post(
        "/batches",
        files={"file": ("city-inbox.jsonl", body, "application/x-ndjson")},
        data={"city": "Velmora", "country": "Testland"},
        headers=headers["submitter"],
    )
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/batches/{response.json()['id']}"
    assert response.json()["status"] in ("queued", "running", "done")
    batch = wait_batch(client, headers["reviewer"], response.json()["id"])
    batch_id = batch["id"]
    assert batch["status"] == "done", batch["error"]
    assert (batch["total"], batch["done"], batch["predicted"], batch["errors"]) == (16, 16, 14, 2)
    assert batch["model_version"] == "tiny-a" and batch["attempts"] == 1 and batch["docs_per_second"] > 0
    assert batch["started_at"] and batch["finished_at"] and batch["filename"] == "city-inbox.jsonl"

    predictions = [
        json.loads(line)
        for line in client.get(f"/batches/{batch_id}/predictions.jsonl", headers=headers["reviewer"]).text.splitlines()
    ]
    assert sorted(p["id"] for p in predictions) == sorted(r["id"] for r in rows)
    assert {p["city"] for p in predictions} == {"Arden", "Velmora"} and {p["country"] for p in predictions} == {
        "Testland"
    }
    assert all(p["source"].startswith("city-inbox.jsonl:") for p in predictions)  # no server paths
    errors = [
        json.loads(line)
        for line in client.get(f"/batches/{batch_id}/errors.jsonl", headers=headers["reviewer"]).text.splitlines()
    ]
    assert sorted(e["reason"].split(":")[0].split(" '")[0] for e in errors) == ["duplicate id", "invalid JSON line"]
    table = list(
        csv.DictReader(
            io.StringIO(client.get(f"/batches/{batch_id}/predictions.csv", headers=headers["reviewer"]).text)
        )
    )
    assert len(table) == 14 and {r["city"] for r in table} == {"Arden", "Velmora"}
    report = client.get(f"/batches/{batch_id}/report.json", headers=headers["reviewer"]).json()
    assert report["documents"] == 14 and report["errors"] == 2 and set(report["cities"]) == {"Arden", "Velmora"}
    page = client.get(f"/batches/{batch_id}/report.html", headers=headers["reviewer"])
    assert page.status_code == 200 and "Velmora" in page.text and page.headers["content-type"].startswith("text/html")

    assert batch_counts(db, batch_id) == (14, 14, 14)
    queue = client.get("/review/queue", params={"batch": batch_id, "page_size": 50}, headers=headers["reviewer"]).json()
    assert queue["total"] == 14 and single["id"] not in {item["id"] for item in queue["items"]}
    margins = [item["margin"] for item in queue["items"]]
    assert margins == sorted(margins)
    assert client.get("/review/queue", params={"page_size": 50}, headers=headers["reviewer"]).json()["total"] == 15
    first = client.get(f"/documents/{queue['items'][0]['id']}", headers=headers["reviewer"]).json()
    assert first["status"] == "predicted" and first["country"] == "Testland" and first["prediction"]["evidence"]
    assert first["prediction"]["model_version"] == "tiny-a" and first["text"]
    listing = client.get("/batches", headers=headers["submitter"]).json()
    assert listing["total"] == 1 and listing["items"][0]["links"]["report.html"] == f"/batches/{batch_id}/report.html"


def test_zip_and_csv_batches_take_cities_from_folders_and_columns(client, headers, db, corpus):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Arden/lamps.txt", corpus[0].text)
        archive.writestr("Brill/notes/forum.md", corpus[1].text)
        archive.writestr("../escape.txt", "trying to leave the folder")
        archive.writestr("table.csv", f'id,text,city\nrow-1,"{corpus[2].text.replace(chr(34), "")}",Cosa\n')
    response = client.post(
        "/batches", files={"file": ("submission.zip", buffer.getvalue(), "application/zip")}, headers=headers["admin"]
    )
    assert response.status_code == 202, response.text
    batch = wait_batch(client, headers["admin"], response.json()["id"])
    assert (batch["status"], batch["predicted"], batch["errors"]) == ("done", 3, 1), batch
    predictions = client.get(f"/batches/{batch['id']}/predictions.jsonl", headers=headers["admin"]).text.splitlines()
    assert {json.loads(p)["id"]: json.loads(p)["city"] for p in predictions} == {
        "Arden/lamps": "Arden",
        "Brill/notes/forum": "Brill",
        "row-1": "Cosa",
    }
    assert "unsafe path" in client.get(f"/batches/{batch['id']}/errors.jsonl", headers=headers["admin"]).text

    table = "id,text,city\n" + "".join(
        f'c{i},"{r.text.replace(chr(34), "")}",Dunmore\n' for i, r in enumerate(corpus[3:6])
    )
    response = client.post(
        "/batches", files={"file": ("t.csv", table.encode(), "text/csv")}, headers=headers["submitter"]
    )
    batch = wait_batch(client, headers["admin"], response.json()["id"])
    assert (batch["status"], batch["predicted"], batch["errors"]) == ("done", 3, 0)
    assert batch_counts(db, batch["id"]) == (3, 3, 3)


def test_an_uploaded_table_cannot_make_the_server_read_its_own_files(client, headers, db, corpus, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("The server's own file, which no upload may read. " * 5)
    rows = [{"id": "ok", "text": corpus[0].text}, {"id": "abs", "path": str(secret)}, {"id": "rel", "path": "../x.txt"}]
    response = client.post(
        "/batches", files={"file": ("t.jsonl", jsonl(rows), "application/x-ndjson")}, headers=headers["submitter"]
    )
    batch = wait_batch(client, headers["admin"], response.json()["id"])
    assert (batch["status"], batch["predicted"], batch["errors"]) == ("done", 1, 2), batch
    errors = client.get(f"/batches/{batch['id']}/errors.jsonl", headers=headers["admin"]).text
    assert errors.count("'path' column is not accepted") == 2
    with db.session() as session:
        texts = session.scalars(select(Document.text).where(Document.batch_id == batch["id"])).all()
    assert len(texts) == 1 and not any("no upload may read" in t for t in texts)


def _stored(app) -> tuple[int, int, int]:
    """Batches, documents, and files left in the uploads' staging folder."""
    db, incoming = app.state.partnership.db, app.state.partnership.settings.batches_path / ".incoming"
    with db.session() as session:
        return (
            session.scalar(select(func.count(Batch.id))),
            session.scalar(select(func.count(Document.id))),
            len(list(incoming.iterdir())) if incoming.exists() else 0,
        )


@pytest.mark.parametrize(
    ("name", "content", "content_type", "code", "message"),
    [
        ("notes.txt", b"a single document", "text/plain", 415, "unsupported batch file type"),
        ("a.zip", b"PK\x03\x04 truncated", "application/zip", 422, "not a readable ZIP"),
        ("a.zip", b"anything", "text/html", 415, "does not match"),
        ("empty.jsonl", b"", "application/jsonl", 422, "empty file"),
        ("a.jsonl", b"not json at all\n", "application/jsonl", 422, "JSON object per line"),
        ("a.csv", b"name,body\nx,y\n", "text/csv", 422, "'text'"),
    ],
)
def test_bad_uploads_get_a_clear_4xx_and_nothing_is_stored(
    app, client, headers, db, name, content, content_type, code, message
):
    before = _stored(app)
    response = client.post("/batches", files={"file": (name, content, content_type)}, headers=headers["submitter"])
    assert response.status_code == code, response.text
    assert message in response.json()["detail"]
    assert _stored(app) == before


def test_size_limit_roles_and_missing_batches(app, client, headers, db, corpus):
    app.state.partnership.settings.batch_max_upload_bytes = 2_000
    big = jsonl([{"text": r.text} for r in corpus[:10]])
    response = client.post(
        "/batches", files={"file": ("big.jsonl", big, "application/jsonl")}, headers=headers["admin"]
    )
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    assert _stored(app) == (0, 0, 0)
    small = jsonl([{"text": corpus[0].text[:500]}])
    assert client.post("/batches", files={"file": ("s.jsonl", small)}, headers=headers["reviewer"]).status_code == 403
    assert client.post("/batches", files={"file": ("s.jsonl", small)}).status_code == 401
    assert (
        client.post(
            "/batches", content=small, headers={**headers["submitter"], "content-type": "application/jsonl"}
        ).status_code
        == 415
    )
    assert client.get("/batches/999", headers=headers["reviewer"]).status_code == 404
    with db.session() as session:  # a batch nobody scheduled stays queued: its final files are not there yet
        user = queries.user_named(session, "ada")
        waiting = queries.create_batch(
            session,
            filename="w.jsonl",
            kind="jsonl",
            folder="nowhere",
            size_bytes=1,
            city=None,
            country=None,
            user=user,
        ).id
    assert client.get(f"/batches/{waiting}/report.html", headers=headers["reviewer"]).status_code == 409
    assert client.get(f"/batches/{waiting}/predictions.jsonl", headers=headers["reviewer"]).text == ""
    assert client.get(f"/batches/{waiting}/secrets.txt", headers=headers["reviewer"]).status_code == 404
    folder = app.state.partnership.settings.batches_path / "pinned"
    folder.mkdir(parents=True)
    (folder / "upload.jsonl").write_bytes(small)
    with db.session() as session:  # a batch pinned to a version deleted since fails, and says why
        user = queries.user_named(session, "ada")
        pinned = queries.create_batch(
            session, filename="p.jsonl", kind="jsonl", folder="pinned", size_bytes=1, city=None, country=None, user=user
        ).id
        queries.update_batch(session, pinned, model_version="deleted-version")
    app.state.batch_runner.schedule(pinned)
    app.state.batch_runner.wait(pinned, 60)
    failed = client.get(f"/batches/{pinned}", headers=headers["reviewer"]).json()
    assert failed["status"] == "failed" and "deleted-version" in failed["error"] and failed["finished_at"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(tmp_path: Path, models_dir: Path, database_url: str, chunk: int) -> dict:
    """The environment of a real server for batch tests: its own var/, the tiny model, no extraction."""
    return dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        PARTNERSHIP_VAR_DIR=str(tmp_path / "var"),
        PARTNERSHIP_MODELS_DIR=str(models_dir),
        PARTNERSHIP_DATABASE_URL=database_url,
        PARTNERSHIP_EXTRACT="false",
        PARTNERSHIP_BATCH_CHUNK_SIZE=str(chunk),
    )


def _start_server(env: dict, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("a") as handle:
        process = subprocess.Popen(
            command + ["--log-level", "warning"], cwd=ROOT, env=env, stdout=handle, stderr=handle
        )
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json().get("model_version"):
                return process
        except (httpx.HTTPError, ValueError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the server did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def test_a_sigkilled_server_resumes_its_batch_with_every_document_exactly_once(
    tmp_path, database_url, models_dir, corpus
):
    db = Database(database_url)
    db.upgrade()
    with db.session() as session:
        token = queries.create_user(session, "ada", "submitter")[1]
    env = _server_env(tmp_path, models_dir, database_url, chunk=2)
    port, log = _free_port(), tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}"
    rows = [{"id": r.id, "text": r.text, "city": r.city} for r in corpus[:60]]
    server = _start_server(env, port, log)
    try:
        response = httpx.post(
            f"{url}/batches", files={"file": ("inbox.jsonl", jsonl(rows))}, headers=auth(token), timeout=30
        )
        assert response.status_code == 202, response.text
        batch_id = response.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            body = httpx.get(f"{url}/batches/{batch_id}", headers=auth(token), timeout=10).json()
            if body["predicted"] >= 6 or body["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)
        server.wait()
        with db.session() as session:
            killed = queries.get_batch(session, batch_id)
            assert killed.status == "running" and killed.done < 60, "the batch finished before it could be killed"
        server = _start_server(env, port, log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            body = httpx.get(f"{url}/batches/{batch_id}", headers=auth(token), timeout=10).json()
            if body["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert body["status"] == "done", (body, log.read_text()[-3000:])
        assert body["attempts"] == 2 and body["predicted"] == 60 and body["errors"] == 0
        journal = httpx.get(f"{url}/batches/{batch_id}/predictions.jsonl", headers=auth(token), timeout=30).text
        ids = [json.loads(line)["id"] for line in journal.splitlines()]
        assert len(ids) == len(set(ids)) == 60 and set(ids) == {r["id"] for r in rows}
        queue = httpx.get(
            f"{url}/review/queue", params={"batch": batch_id, "page_size": 100}, headers=auth(token)
        ).json()
        assert queue["total"] == 60
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    assert batch_counts(db, batch_id) == (60, 60, 60)
    with db.session() as session:
        names = list(session.scalars(select(Document.name).where(Document.batch_id == batch_id)))
    assert sorted(names) == sorted(r["id"] for r in rows)
    db.dispose()


def test_a_retraining_job_interrupted_by_a_restart_is_failed_and_its_half_written_version_removed(
    settings, models_dir, corpus
):
    db = Database(settings.database)
    db.upgrade()
    with db.session() as session:
        admin = queries.create_user(session, "root", "admin")[0]
        job_id = queries.create_job(session, "retrain", admin).id
        queries.start_job(session, job_id)
    staging = models_dir / ".v20991231-000000.partial"  # what train_version leaves when killed mid-save
    staging.mkdir()
    (staging / "partnership.json").write_text("{}")
    assert ".v20991231-000000.partial" not in {v.version for v in ModelRegistry(models_dir).versions()}
    app = create_app(settings)
    with TestClient(app) as client:
        with db.session() as session:
            job = session.get(Job, job_id)
            assert (job.status, job.error) == ("failed", INTERRUPTED) and job.finished_at is not None
            admin_token = queries.rotate_token(session, "root", "admin")
        assert not staging.exists()
        listed = client.get("/models", headers=auth(admin_token)).json()
        assert {v["version"] for v in listed["versions"]} == {"tiny-a", "tiny-b"}
        assert client.get(f"/models/jobs/{job_id}", headers=auth(admin_token)).json()["status"] == "failed"
    db.dispose()


def test_documents_received_without_a_model_are_classified_when_one_serves(tmp_path, settings, tiny_model_dir, corpus):
    empty = tmp_path / "registry"
    install_version(empty, tiny_model_dir, "tiny-c", 0.5)
    settings = settings.model_copy(update={"models_dir": empty})
    app = create_app(settings)
    with TestClient(app) as client:
        db = app.state.partnership.db
        with db.session() as session:
            submitter = queries.create_user(session, "ada", "submitter")[1]
            admin = queries.create_user(session, "root", "admin")[1]
        first = client.post("/documents", json={"text": corpus[0].text}, headers=auth(submitter)).json()
        assert first["status"] == "received"
        assert client.post("/models/tiny-c/promote", headers=auth(admin)).status_code == 200
        app.state.backlog.kick().result(60)
        document = client.get(f"/documents/{first['id']}", headers=auth(admin)).json()
        assert document["status"] == "predicted" and document["prediction"]["model_version"] == "tiny-c"
        app.state.partnership.holder._install(None)  # the model goes away again (as in a broken load)
        second = client.post("/documents", json={"text": corpus[1].text}, headers=auth(submitter)).json()
        assert second["status"] == "received"
    app = create_app(settings)  # a restart with a model serving classifies it at startup
    with TestClient(app) as client:
        app.state.backlog.kick().result(60)
        document = client.get(f"/documents/{second['id']}", headers=auth(admin)).json()
        assert document["status"] == "predicted"
        with app.state.partnership.db.session() as session:
            counts = [
                len(list(session.scalars(select(Prediction.id).where(Prediction.document_id == d["id"]))))
                for d in (first, second)
            ]
        assert counts == [1, 1]
