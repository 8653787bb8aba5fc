"""Security: the session secret, roles, tokens never logged nor stored in clear, and CSRF on every page form."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from api.security import allowed, session_secret
from api.settings import Settings
from tests.api.conftest import auth
from tests.api.live import serve


def test_session_secret_is_generated_once_into_var_and_kept_private(tmp_path):
    settings = Settings(var_dir=tmp_path / "var")
    first = session_secret(settings)
    path = tmp_path / "var" / "session_secret"
    assert len(first) >= 60 and path.read_text().strip() == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert session_secret(settings) == first
    assert session_secret(Settings(var_dir=tmp_path / "var", session_secret="configured")) == "configured"


def test_roles():
    assert allowed("admin", "review") and allowed("admin", "submit") and allowed("admin", "admin")
    assert allowed("reviewer", "review") and not allowed("reviewer", "submit") and not allowed("reviewer", "admin")
    assert allowed("submitter", "submit") and not allowed("submitter", "review")
    assert all(allowed(role, "read") for role in ("submitter", "reviewer", "admin"))


@pytest.fixture
def logged(app, tmp_path):
    """A real uvicorn (access log on, debug level) with every log record of every logger captured as text."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(f"{record.name} {record.getMessage()} {record.args!r} {record.exc_text or ''}")

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "api", "multipart", "python_multipart", "httpx"]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with serve(app, log_level="debug", access_log=True) as url:
            for logger in loggers:  # uvicorn set its own levels and handlers at startup: keep ours on top
                logger.setLevel(logging.DEBUG)
                if handler not in logger.handlers:
                    logger.addHandler(handler)
            yield url, records
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def test_tokens_are_never_logged_nor_stored_in_clear(app, logged, capfd, corpus):
    from api.store import queries

    url, records = logged
    state = app.state.partnership
    with state.db.session() as session:
        submitter = queries.create_user(session, "ada", "submitter")[1]
        reviewer = queries.create_user(session, "rui", "reviewer")[1]
    secrets = [submitter, reviewer]
    with httpx.Client(base_url=url, timeout=60) as api:
        created = api.post("/documents", json={"text": corpus[0].text}, headers=auth(submitter))
        assert created.status_code == 201
        assert api.get("/documents", headers=auth(reviewer)).status_code == 200
        assert api.post("/users", json={"name": "x", "role": "admin"}, headers=auth(reviewer)).status_code == 403
        wrong = submitter[:-4] + "AAAA"  # an unknown token is a secret too (a typo of a real one)
        secrets.append(wrong)
        assert api.get("/documents", headers=auth(wrong)).status_code == 401
        body = api.post("/users", json={"name": "nia", "role": "submitter"}, headers=auth(submitter))
        assert body.status_code == 403
    with httpx.Client(base_url=url, timeout=60, follow_redirects=False) as browser:  # the login form
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/ui/login").text).group(1)
        assert browser.post("/ui/login", data={"token": wrong, "csrf": csrf}).status_code == 401
        assert browser.post("/ui/login", data={"token": reviewer, "csrf": csrf}).status_code == 303
        assert browser.get("/ui/queue").status_code == 200
    output = capfd.readouterr()
    logs = "\n".join(records) + output.out + output.err
    assert "GET /documents HTTP/1.1" in logs and "POST /ui/login" in logs  # the access log was captured
    assert len(records) > 10
    for secret in secrets:
        assert secret not in logs
    # Stored: only the sha256 (in the users table), nowhere in the database or the var folder in clear.
    with state.db.session() as session:
        stored = {u.name: u.token_hash for u in queries.list_users(session)}
    assert stored["ada"] == queries.hash_token(submitter) and stored["rui"] == queries.hash_token(reviewer)
    files = [p for p in state.settings.var_dir.rglob("*") if p.is_file()]
    if state.db.backend == "sqlite":
        database = Path(state.settings.database.removeprefix("sqlite:///"))
        files += [p for p in database.parent.glob(database.name + "*")]
    assert files
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, path
    assert queries.hash_token(submitter).encode() in b"".join(p.read_bytes() for p in files) or (
        state.db.backend != "sqlite"
    )


def forms_of(html: str) -> list[tuple[str, dict[str, str]]]:
    """(action, fields) of every POST form in a page, with the values the page filled in."""
    found = []
    for form in BeautifulSoup(html, "html.parser").find_all("form"):
        if (form.get("method") or "get").lower() != "post":
            continue
        fields = {}
        for field in form.find_all(["input", "select", "textarea"]):
            if field.get("name"):
                fields[field["name"]] = field.get("value") or field.get_text() or ""
        found.append((form["action"], fields))
    return found


def test_every_form_on_the_pages_needs_the_csrf_token(app, client, tokens, submit):
    document = submit()
    browser = TestClient(app, follow_redirects=False)
    csrf = forms_of(browser.get("/ui/login").text)[0][1]["csrf"]
    assert browser.post("/ui/login", data={"token": tokens["root"], "csrf": csrf}).status_code == 303
    pages = ["/ui/queue", f"/ui/documents/{document['id']}", "/ui/dashboard", "/ui/login"]
    checked = set()
    for page in pages:
        html = browser.get(page).text
        for action, fields in forms_of(html):
            assert fields.get("csrf"), (page, action)  # every form carries the token
            if action in checked:
                continue
            checked.add(action)
            version = client.get(f"/documents/{document['id']}", headers=auth(tokens["root"])).json()["version"]
            without = {k: v for k, v in fields.items() if k != "csrf"}
            for data in (without, {**without, "csrf": "forged"}):
                refused = browser.post(action, data=data)
                assert refused.status_code == 403 and "CSRF" in refused.text, (page, action, refused.status_code)
            after = client.get(f"/documents/{document['id']}", headers=auth(tokens["root"])).json()
            assert after["version"] == version  # nothing changed
            assert browser.get("/ui/queue").status_code == 200  # and the session is still logged in
    expected = {"/ui/login", "/ui/logout", f"/ui/documents/{document['id']}/review"}
    assert expected <= checked, checked


def test_zip_path_traversal_and_symlinks_are_refused_and_nothing_is_extracted(tmp_path):
    import zipfile

    from api.inputs import InputError, iter_zip

    archive = tmp_path / "in" / "submission.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("Velmora/ok.txt", "The council pays for the lamps and a vendor installs them.")
        out.writestr("../escape.txt", "trying to leave the folder")
        out.writestr("Velmora/../../escape2.txt", "trying harder")
        out.writestr("/etc/passwd.txt", "absolute")
        out.writestr("..\\windows.txt", "backslashes")
        link = zipfile.ZipInfo("Velmora/link.txt")
        link.create_system = 3
        link.external_attr = 0o120777 << 16  # a symbolic link entry
        out.writestr(link, "/etc/passwd")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    results = {(r.id if isinstance(r, InputError) else r.id): r for r in iter_zip(archive)}
    refused = {k: r.reason for k, r in results.items() if isinstance(r, InputError)}
    read = [k for k, r in results.items() if not isinstance(r, InputError)]
    assert len(read) == 1 and "ok" in read[0]
    assert len(refused) == 5, refused
    assert sum("unsafe path" in reason for reason in refused.values()) == 4
    assert sum("symbolic link" in reason for reason in refused.values()) == 1
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written anywhere


def test_unknown_or_repeated_query_parameters_are_refused_not_ignored(client, headers):
    typo = client.get("/documents", params={"lable": "A"}, headers=headers["reviewer"])
    assert typo.status_code == 422 and typo.json()["detail"][0]["loc"] == ["query", "lable"]
    twice = client.get("/review/queue?label=A&label=B", headers=headers["reviewer"])
    assert twice.status_code == 422 and "more than once" in twice.json()["detail"][0]["msg"]
    assert client.get("/documents", params={"label": "A", "page": 1}, headers=headers["reviewer"]).status_code == 200
    assert client.get("/ui/login", params={"next": "/ui/queue", "utm": "x"}).status_code == 200  # pages: lenient
