"""Managing batches after upload: cancel (queued never starts, running stops within a chunk, a restart does not
resume it), delete (folder and row gone, documents kept), retention (old finished batches' files removed, 410),
who may do each, the 0003 migration, and the bulk intake that attaches a chunk's predictions in one transaction."""

from __future__ import annotations

import fcntl
import subprocess
import time
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, text

from api.app import create_app
from api.jobs.batches import expire_batches
from api.store import queries
from api.store.db import Database, upgrade
from api.store.tables import AuditEvent, Batch, Document, Prediction, utcnow
from tests.api.conftest import auth
from tests.api.test_batches import _free_port, _server_env, _start_server, jsonl, wait_batch


def _upload(client, headers: dict, rows: list[dict], name: str = "inbox.jsonl") -> int:
    response = client.post("/batches", files={"file": (name, jsonl(rows), "application/x-ndjson")}, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _queued_batch(app, db, owner: str, folder: str, rows: list[dict]) -> int:
    """A queued batch with its upload on disk that no worker was told about (so the test decides when it runs)."""
    path = app.state.partnership.settings.batches_path / folder
    path.mkdir(parents=True)
    (path / "upload.jsonl").write_bytes(jsonl(rows))
    with db.session() as session:
        user = queries.user_named(session, owner)
        return queries.create_batch(
            session, filename="q.jsonl", kind="jsonl", folder=folder, size_bytes=1, city=None, country=None, user=user
        ).id


@pytest.fixture
def ben(db) -> dict[str, str]:
    """A second submitter, who does not own the others' batches."""
    with db.session() as session:
        return auth(queries.create_user(session, "ben", "submitter")[1])


def test_a_queued_batch_cancelled_never_starts_and_only_its_submitter_or_an_admin_may_cancel(
    app, client, headers, db, corpus, ben
):
    rows = [{"id": f"q{i}", "text": r.text} for i, r in enumerate(corpus[:3])]
    batch_id = _queued_batch(app, db, "ada", "queued-one", rows)
    assert client.post(f"/batches/{batch_id}/cancel", headers=headers["reviewer"]).status_code == 403
    answer = client.post(f"/batches/{batch_id}/cancel", headers=ben)
    assert answer.status_code == 403 and "only the submitter" in answer.json()["detail"]
    assert client.post(f"/batches/{batch_id}/cancel").status_code == 401
    assert client.post("/batches/999/cancel", headers=headers["admin"]).status_code == 404
    answer = client.post(f"/batches/{batch_id}/cancel", headers=headers["submitter"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "cancelled" and body["finished_at"] and "ada" in body["error"]
    app.state.batch_runner.schedule(batch_id)  # as a restart's resume or a late worker would
    app.state.batch_runner.wait(batch_id, 60)
    assert app.state.batch_runner.resume() == []  # not among the batches a restart picks up
    body = client.get(f"/batches/{batch_id}", headers=headers["reviewer"]).json()
    assert (body["status"], body["attempts"], body["started_at"], body["total"]) == ("cancelled", 0, None, None)
    with db.session() as session:
        assert session.scalar(select(func.count(Document.id)).where(Document.batch_id == batch_id)) == 0
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action == "batch_cancelled")).all()
    assert actions == ["batch_cancelled"]
    again = client.post(f"/batches/{batch_id}/cancel", headers=headers["admin"])
    assert again.status_code == 409 and "is cancelled" in again.json()["detail"]

    done = wait_batch(client, headers["admin"], _upload(client, headers["submitter"], rows[:1]))
    assert done["status"] == "done"
    answer = client.post(f"/batches/{done['id']}/cancel", headers=headers["admin"])  # an admin may, but it is over
    assert answer.status_code == 409 and "is done" in answer.json()["detail"]


def test_delete_removes_the_folder_and_the_row_and_keeps_the_documents_and_their_reviews(
    app, client, headers, db, corpus, ben
):
    root = app.state.partnership.settings.batches_path
    batch_id = _upload(
        client, headers["submitter"], [{"id": f"d{i}", "text": r.text} for i, r in enumerate(corpus[:4])]
    )
    assert wait_batch(client, headers["admin"], batch_id)["status"] == "done"
    with db.session() as session:
        folder = root / queries.get_batch(session, batch_id).folder
        ids = session.scalars(select(Document.id).where(Document.batch_id == batch_id).order_by(Document.id)).all()
    assert (folder / "upload.jsonl").is_file() and (folder / "out" / "predictions.jsonl").is_file()
    reviewed = client.post(
        f"/documents/{ids[0]}/review", json={"version": 1, "label": "B"}, headers=headers["reviewer"]
    )
    assert reviewed.status_code == 200, reviewed.text

    assert client.delete(f"/batches/{batch_id}", headers=headers["reviewer"]).status_code == 403
    answer = client.delete(f"/batches/{batch_id}", headers=ben)
    assert answer.status_code == 403 and "only the submitter" in answer.json()["detail"]
    with (folder / ".lock").open("a") as lock:  # a worker still finishing its chunk holds this lock
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        answer = client.delete(f"/batches/{batch_id}", headers=headers["submitter"])
    assert answer.status_code == 409 and "still stopping" in answer.json()["detail"] and folder.is_dir()

    answer = client.delete(f"/batches/{batch_id}", headers=headers["submitter"])
    assert answer.status_code == 204 and answer.content == b""
    assert not folder.exists() and [p.name for p in root.iterdir() if not p.name.startswith(".incoming")] == []
    assert client.get(f"/batches/{batch_id}", headers=headers["admin"]).status_code == 404
    assert client.get(f"/batches/{batch_id}/predictions.jsonl", headers=headers["admin"]).status_code == 404
    assert client.delete(f"/batches/{batch_id}", headers=headers["admin"]).status_code == 404
    with db.session() as session:
        kept = session.scalars(select(Document).where(Document.id.in_(ids)).order_by(Document.id)).all()
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "batch_deleted"))
    assert [d.id for d in kept] == ids and all(d.batch_id is None and d.batch_key for d in kept)
    assert kept[0].status == "reviewed" and kept[0].label == "B"
    assert event.actor == "ada" and event.changes["documents_kept"] == 4
    document = client.get(f"/documents/{ids[0]}", headers=headers["reviewer"]).json()
    assert document["review"]["label"] == "B"
    queue = client.get("/review/queue", params={"page_size": 50}, headers=headers["reviewer"]).json()
    assert {item["id"] for item in queue["items"]} == set(ids[1:])


def test_delete_refuses_a_queued_or_running_batch_and_documents_of_a_deleted_batch_stay_unclassified(
    app, client, headers, db, corpus
):
    rows = [{"id": f"r{i}", "text": r.text} for i, r in enumerate(corpus[:2])]
    batch_id = _queued_batch(app, db, "ada", "not-started", rows)
    for state in ("queued", "running"):
        with db.session() as session:
            queries.update_batch(session, batch_id, status=state)
        answer = client.delete(f"/batches/{batch_id}", headers=headers["admin"])
        assert answer.status_code == 409 and "cancel it first" in answer.json()["detail"], answer.text
    with db.session() as session:  # a cancelled batch whose documents were stored but never classified
        batch = queries.get_batch(session, batch_id)
        queries.add_batch_documents(session, batch, [{"key": "r0", "name": "r0", "format": "txt", "text": "x" * 80}])
        queries.update_batch(session, batch_id, status="cancelled", finished_at=utcnow())
    assert client.delete(f"/batches/{batch_id}", headers=headers["admin"]).status_code == 204
    with db.session() as session:  # the backlog of single submissions must not classify it behind the user's back
        assert queries.received_documents(session) == []
        assert session.scalar(select(Document.status).where(Document.batch_key == "r0")) == "received"


def test_retention_removes_old_finished_batches_files_at_startup_and_on_call_and_downloads_say_410(
    app, client, headers, db, corpus, settings
):
    state = app.state.partnership
    root = state.settings.batches_path
    rows = [{"id": f"t{i}", "text": r.text} for i, r in enumerate(corpus[:2])]
    old, recent = (_upload(client, headers["submitter"], rows, f"{n}.jsonl") for n in ("old", "recent"))
    for batch_id in (old, recent):
        assert wait_batch(client, headers["admin"], batch_id)["status"] == "done"
    waiting = _queued_batch(app, db, "ada", "waiting", rows)  # unfinished: never expires, however old
    with db.session() as session:
        folders = {b.id: root / b.folder for b in session.scalars(select(Batch))}
        queries.update_batch(session, waiting, created_at=utcnow() - timedelta(days=400))

    assert expire_batches(state) == []  # everything is younger than 30 days
    state.settings.batch_retention_days = 0
    assert expire_batches(state, now=utcnow() + timedelta(days=1000)) == []  # 0 keeps forever
    state.settings.batch_retention_days = 30
    assert expire_batches(state, now=utcnow() + timedelta(days=31)) == [old, recent]  # a fake "now"
    assert not folders[old].exists() and not folders[recent].exists() and folders[waiting].is_dir()
    assert expire_batches(state, now=utcnow() + timedelta(days=31)) == []  # once
    assert client.post(f"/batches/{waiting}/cancel", headers=headers["submitter"]).status_code == 200

    body = client.get(f"/batches/{old}", headers=headers["reviewer"]).json()
    assert body["status"] == "done" and body["files_expired_at"] and list(body["links"]) == ["queue"]
    for name in ("predictions.jsonl", "errors.jsonl", "predictions.csv", "report.html"):
        answer = client.get(f"/batches/{old}/{name}", headers=headers["reviewer"])
        assert answer.status_code == 410 and "were removed" in answer.json()["detail"], (name, answer.text)
    queue = client.get("/review/queue", params={"batch": old}, headers=headers["reviewer"]).json()
    assert queue["total"] == 2  # the documents and their predictions stay
    assert client.delete(f"/batches/{old}", headers=headers["submitter"]).status_code == 204  # nothing on disk: fine

    third = _upload(client, headers["submitter"], rows, "third.jsonl")
    assert wait_batch(client, headers["admin"], third)["status"] == "done"
    with db.session() as session:  # finished 40 days ago, as stored in the real database
        queries.update_batch(session, third, finished_at=utcnow() - timedelta(days=40))
        third_folder = root / queries.get_batch(session, third).folder
    assert third_folder.is_dir()
    restarted = create_app(settings)  # the startup sweep takes it, in the background
    with TestClient(restarted) as second:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and third_folder.exists():
            time.sleep(0.1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            body = second.get(f"/batches/{third}", headers=headers["reviewer"]).json()
            if body["files_expired_at"]:
                break
            time.sleep(0.1)
    assert not third_folder.exists() and body["files_expired_at"]
    assert folders[waiting].is_dir()


def test_migration_0003_upgrades_a_0002_database_with_its_batches(database_url):
    db = Database(database_url)
    upgrade(db.engine, "0002")
    with db.engine.begin() as connection:
        assert "files_expired_at" not in {c["name"] for c in inspect(connection).get_columns("batches")}
        connection.execute(
            text(
                "INSERT INTO batches (status, filename, kind, folder, size_bytes, done, predicted, errors, attempts,"
                " error, created_at) VALUES ('running', 'a.zip', 'zip', 'f', 1, 0, 0, 0, 1, '', :now)"
            ),
            {"now": utcnow().replace(tzinfo=None)},
        )
    db.upgrade()
    with db.session() as session:
        batch = session.scalar(select(Batch))
        assert (batch.filename, batch.status, batch.files_expired_at) == ("a.zip", "running", None)
        queries.update_batch(session, batch.id, status="cancelled", files_expired_at=utcnow())
    with db.session() as session:
        assert session.scalar(select(Batch.status)) == "cancelled"
    db.dispose()


def test_bulk_intake_attaches_each_prediction_once_with_its_document_fields_and_audit_row(database_url):
    db = Database(database_url)
    db.upgrade()
    with db.session() as session:
        user = queries.create_user(session, "ada", "submitter")[0]
        batch = queries.create_batch(
            session, filename="b.jsonl", kind="jsonl", folder="b", size_bytes=1, city=None, country=None, user=user
        )
        docs = [{"key": f"k{i}", "name": f"k{i}", "format": "txt", "text": f"text {i} " * 20} for i in range(5)]
        queries.add_batch_documents(session, batch, docs)

    def row(i: int, label: str) -> dict:
        probabilities = {k: 0.1 for k in "ABCDE"} | {label: 0.6}
        payload = {"id": f"k{i}", "label": label, "confidence": 0.6, "probabilities": probabilities}
        return {"key": f"k{i}", "payload": payload | {"stakeholders": [{"name": "x"}], "model_version": "v1"}}

    with db.session() as session:
        attached = queries.attach_batch_predictions(session, batch.id, [row(i, "C") for i in range(3)] + [row(1, "C")])
    assert [r["key"] for r in attached] == ["k0", "k1", "k2"]
    with db.session() as session:
        again = queries.attach_batch_predictions(session, batch.id, [row(i, "D") for i in range(5)])
    assert [r["key"] for r in again] == ["k3", "k4"]  # a resumed batch re-reads its journal: no duplicates
    with db.session() as session:
        documents = {d.batch_key: d for d in session.scalars(select(Document).where(Document.batch_id == batch.id))}
        predictions = session.scalars(select(Prediction)).all()
        classified = session.scalars(select(AuditEvent).where(AuditEvent.action == "classified")).all()
    assert len(predictions) == 5 and len(classified) == 5
    assert {e.document_id for e in classified} == {d.id for d in documents.values()}
    by_id = {p.id: p for p in predictions}
    for key, document in documents.items():
        prediction = by_id[document.prediction_id]
        assert prediction.document_id == document.id and prediction.model_version == "v1"
        assert document.predicted_label == prediction.label == ("C" if key < "k3" else "D")
        assert document.margin == pytest.approx(0.5) and prediction.margin == pytest.approx(0.5)
    assert all(d.status == "predicted" and d.stakeholders == [{"name": "x"}] for d in documents.values())
    assert [d.label for _, d in sorted(documents.items())] == ["C", "C", "C", "D", "D"]
    assert {e.prediction_id for e in classified} == set(by_id) and all(e.actor == "system" for e in classified)
    db.dispose()


def test_cancelling_a_running_batch_through_a_real_server_stops_it_within_a_chunk_and_a_restart_does_not_resume_it(
    tmp_path, database_url, models_dir, corpus
):
    db = Database(database_url)
    db.upgrade()
    with db.session() as session:
        token = queries.create_user(session, "ada", "submitter")[1]
        other = queries.create_user(session, "ben", "submitter")[1]
        reviewer = queries.create_user(session, "rui", "reviewer")[1]
    chunk, total = 4, 400
    env = _server_env(tmp_path, models_dir, database_url, chunk)
    port, log = _free_port(), tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}"
    rows = [{"id": f"s{i:03d}", "text": corpus[i % len(corpus)].text[:300]} for i in range(total)]
    server = _start_server(env, port, log)
    try:
        response = httpx.post(f"{url}/batches", files={"file": ("wrong.jsonl", jsonl(rows))}, headers=auth(token))
        assert response.status_code == 202, response.text
        batch_id = response.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            body = httpx.get(f"{url}/batches/{batch_id}", headers=auth(token), timeout=10).json()
            if body["predicted"] >= 2 * chunk or body["status"] not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert body["status"] == "running", body
        for who in (other, reviewer):
            assert httpx.post(f"{url}/batches/{batch_id}/cancel", headers=auth(who)).status_code == 403
        assert httpx.delete(f"{url}/batches/{batch_id}", headers=auth(token)).status_code == 409  # cancel first
        answer = httpx.post(f"{url}/batches/{batch_id}/cancel", headers=auth(token), timeout=30)
        assert answer.status_code == 200, answer.text
        at_cancel = answer.json()["done"]
        assert answer.json()["status"] == "cancelled"

        journal = lambda: httpx.get(  # noqa: E731
            f"{url}/batches/{batch_id}/predictions.jsonl", headers=auth(token), timeout=30
        ).text.splitlines()
        seen, still_since = len(journal()), time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() - still_since < 3 and time.monotonic() < deadline:  # until it stays put for 3 s
            time.sleep(0.3)
            now = len(journal())
            if now != seen:
                seen, still_since = now, time.monotonic()
        body = httpx.get(f"{url}/batches/{batch_id}", headers=auth(token)).json()
        assert body["status"] == "cancelled"
        # stopped at the next chunk boundary: at most the chunk in flight (and one our view of `done` lagged)
        assert seen <= at_cancel + 2 * chunk, (at_cancel, seen)
        assert seen < total / 2 and body["predicted"] == seen
        queue = httpx.get(f"{url}/review/queue", params={"batch": batch_id, "page_size": 200}, headers=auth(token))
        assert queue.json()["total"] == seen  # what it classified is in the review queue
        report = httpx.get(f"{url}/batches/{batch_id}/report.json", headers=auth(token))
        assert report.status_code == 409 and "predictions.jsonl" in report.json()["detail"]

        server.terminate()
        server.wait(timeout=60)
        server = _start_server(env, port, log)
        time.sleep(3)  # a resumed batch would have moved on by now
        after = httpx.get(f"{url}/batches/{batch_id}", headers=auth(token)).json()
        assert (after["status"], after["attempts"], after["predicted"]) == ("cancelled", 1, seen), after
        assert len(journal()) == seen
        with db.session() as session:
            folder = tmp_path / "var" / "batches" / queries.get_batch(session, batch_id).folder
        assert folder.is_dir()
        assert httpx.delete(f"{url}/batches/{batch_id}", headers=auth(token)).status_code == 204
        assert not folder.exists()
        assert httpx.get(f"{url}/batches/{batch_id}", headers=auth(token)).status_code == 404
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    with db.session() as session:  # the documents stay: all stored ones, the classified ones predicted
        statuses = session.scalars(select(Document.status).where(Document.batch_key.is_not(None))).all()
    assert len(statuses) == total and statuses.count("predicted") == seen
    db.dispose()
