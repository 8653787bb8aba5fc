"""Every endpoint × no token, a wrong role, the right role; tokens stored hashed; `users create` prints one."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import app as cli
from api.settings import get_settings
from api.store.queries import hash_token
from api.store.tables import User

EVERYONE = {"submitter", "reviewer", "admin"}
# (method, path, roles allowed, JSON body); {doc} is a classified document's id.
ENDPOINTS = [
    ("POST", "/documents", {"submitter", "admin"}, {"text": "The council pays for the lamps. A vendor fits them."}),
    ("GET", "/documents", EVERYONE, None),
    ("GET", "/documents/{doc}", EVERYONE, None),
    ("GET", "/documents/{doc}/history", EVERYONE, None),
    ("GET", "/review/queue", EVERYONE, None),
    ("POST", "/documents/{doc}/review", {"reviewer", "admin"}, {"version": 1, "label": "A"}),
    ("GET", "/models", EVERYONE, None),
    ("POST", "/models/retrain", {"admin"}, None),
    ("GET", "/models/jobs", {"admin"}, None),
    ("GET", "/models/jobs/1", {"admin"}, None),
    ("POST", "/models/tiny-b/promote", {"admin"}, None),
    ("POST", "/models/rollback", {"admin"}, None),
    ("GET", "/users", {"admin"}, None),
    ("POST", "/users", {"admin"}, {"name": "newcomer", "role": "reviewer"}),
]


@pytest.mark.parametrize(("method", "path", "roles", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_auth_matrix(app, client, headers, submit, tmp_path, method, path, roles, body):
    app.state.partnership.settings.data_dir = tmp_path / "no-corpus"  # a retraining job fails fast here
    url = path.format(doc=submit()["id"])
    for name, extra in (("no token", {}), ("bad token", {"Authorization": "Bearer not-a-token"})):
        response = client.request(method, url, json=body, headers=extra)
        assert response.status_code == 401, (name, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
    for role in ("submitter", "reviewer", "admin"):
        response = client.request(method, url, json=body, headers=headers[role])
        if role in roles:
            assert response.status_code not in (401, 403), (role, response.text)
            assert response.status_code < 500, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert role in response.json()["detail"]


def test_open_endpoints_need_no_token(client):
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]["/documents"]["post"]["requestBody"]["content"]) == {
        "application/json",
        "multipart/form-data",
    }
    assert client.get("/docs").status_code == 200


def test_tokens_are_stored_as_sha256_only(client, headers, tokens, db):
    created = client.post("/users", json={"name": "nia", "role": "submitter"}, headers=headers["admin"]).json()
    token = created.pop("token")
    assert len(token) >= 43 and created == {"id": created["id"], "name": "nia", "role": "submitter", "active": True}
    with db.session() as session:
        stored = session.scalar(select(User).where(User.name == "nia"))
        assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    assert client.get("/documents", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    duplicate = client.post("/users", json={"name": "nia", "role": "admin"}, headers=headers["admin"])
    assert duplicate.status_code == 409
    assert client.post("/users", json={"name": "x", "role": "owner"}, headers=headers["admin"]).status_code == 422


def test_cli_users_create_prints_the_token_once_on_stdout(settings, monkeypatch):
    monkeypatch.setenv("PARTNERSHIP_DATABASE_URL", settings.database)
    monkeypatch.setenv("PARTNERSHIP_VAR_DIR", str(settings.var_dir))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(cli, ["users", "create", "grace", "--role", "reviewer"])
        assert result.exit_code == 0, result.output
        token = result.stdout.strip()
        assert "\n" not in token and len(token) >= 43
        again = runner.invoke(cli, ["users", "create", "grace", "--role", "reviewer"])
        assert again.exit_code == 2 and "already exists" in again.output
        bad_role = runner.invoke(cli, ["users", "create", "hal", "--role", "owner"])
        assert bad_role.exit_code == 2
        listing = runner.invoke(cli, ["users", "list"])
        assert "grace\treviewer" in listing.stdout and token not in listing.stdout
    finally:
        get_settings.cache_clear()
    from api.store.db import Database
    from api.store.queries import user_by_token

    db = Database(settings.database)
    with db.session() as session:
        assert user_by_token(session, token).name == "grace"
    db.dispose()


def test_authentication_returns_the_connection_to_the_pool(db, tokens):
    """A request waits for the model after authenticating; it must not hold a pooled connection meanwhile."""
    from fastapi.security import HTTPAuthorizationCredentials

    from api.deps import current_user

    pool = db.engine.pool
    with db.sessions() as session:
        before = pool.checkedout()
        user = current_user(session, HTTPAuthorizationCredentials(scheme="Bearer", credentials=tokens["ada"]))
        assert pool.checkedout() == before  # read, then released
        assert user.role == "submitter" and user.id is not None  # still loaded, no new query needed
        assert pool.checkedout() == before
