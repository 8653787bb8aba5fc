"""The auth matrix: every route of the app (enumerated from ``app.routes``, so a new route is covered, and this
test fails until it is given a row in ``TABLE``) x no token, an unknown token, and each role.

API routes: no or an unknown token is 401 (with ``WWW-Authenticate: Bearer``), a role the table does not list
403, a listed role anything but 401/403/5xx. Page routes (``/ui``): without a session a page redirects to the
login, a form post without the CSRF token is 403; logged in, a role that may not post a form gets 403.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests.api.conftest import auth

ROLES = ("submitter", "reviewer", "admin")
EVERYONE = frozenset(ROLES)
PUBLIC = "public"  # no token needed
PAGE = "page"  # a page: any logged-in role, else a redirect to the login
FORM = "form"  # a form post anyone may send with the session's CSRF token (login, logout)

# (method, path template) -> who may, and a JSON body for the allowed roles.
TABLE: dict[tuple[str, str], tuple[object, dict | None]] = {
    ("GET", "/health"): (PUBLIC, None),
    ("GET", "/metrics"): (PUBLIC, None),
    ("GET", "/openapi.json"): (PUBLIC, None),
    ("GET", "/docs"): (PUBLIC, None),
    ("GET", "/docs/oauth2-redirect"): (PUBLIC, None),
    ("GET", "/redoc"): (PUBLIC, None),
    ("POST", "/documents"): (frozenset({"submitter", "admin"}), {"text": "The council pays for the lamps."}),
    ("GET", "/documents"): (EVERYONE, None),
    ("GET", "/documents/{document_id}"): (EVERYONE, None),
    ("GET", "/documents/{document_id}/history"): (EVERYONE, None),
    ("GET", "/review/queue"): (EVERYONE, None),
    ("POST", "/documents/{document_id}/review"): (frozenset({"reviewer", "admin"}), {"version": 1, "label": "A"}),
    ("GET", "/models"): (EVERYONE, None),
    ("POST", "/models/retrain"): (frozenset({"admin"}), None),
    ("GET", "/models/jobs"): (frozenset({"admin"}), None),
    ("GET", "/models/jobs/{job_id}"): (frozenset({"admin"}), None),
    ("POST", "/models/{version}/promote"): (frozenset({"admin"}), None),
    ("POST", "/models/rollback"): (frozenset({"admin"}), None),
    ("GET", "/users"): (frozenset({"admin"}), None),
    ("POST", "/users"): (frozenset({"admin"}), {"name": "newcomer", "role": "reviewer"}),
    ("POST", "/batches"): (frozenset({"submitter", "admin"}), None),
    ("GET", "/batches"): (EVERYONE, None),
    ("GET", "/batches/{batch_id}"): (EVERYONE, None),
    ("GET", "/batches/{batch_id}/{name}"): (EVERYONE, None),
    ("POST", "/batches/{batch_id}/cancel"): (frozenset({"submitter", "admin"}), None),  # and only their own
    ("DELETE", "/batches/{batch_id}"): (frozenset({"submitter", "admin"}), None),  # and only their own
    ("GET", "/"): (PUBLIC, None),
    ("GET", "/ui"): (PUBLIC, None),
    ("GET", "/ui/login"): (PUBLIC, None),
    ("POST", "/ui/login"): (FORM, None),
    ("POST", "/ui/logout"): (FORM, None),
    ("GET", "/ui/queue"): (PAGE, None),
    ("GET", "/ui/documents/{document_id}"): (PAGE, None),
    ("GET", "/ui/dashboard"): (PAGE, None),
    ("POST", "/ui/documents/{document_id}/review"): (frozenset({"reviewer", "admin"}), None),
    ("POST", "/ui/documents/{document_id}/llm"): (frozenset({"reviewer", "admin"}), None),
}


def app_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD and static files aside."""
    found = set()
    for context in iter_route_contexts(app.routes):
        methods, path = context.methods, context.path
        if not methods or path is None or path.startswith("/static"):
            continue
        found |= {(method, path) for method in methods if method != "HEAD"}
    return found


@pytest.fixture
def settings(settings, tmp_path):
    """Retraining fails fast (no corpus) and the LLM is a closed port (an instant 'unknown' opinion)."""
    return settings.model_copy(
        update={
            "data_dir": tmp_path / "no-corpus",
            "llm_backend": "openai",
            "llm_base_url": "http://127.0.0.1:9/v1",
            "llm_model": "none",
            "llm_timeout": 2.0,
        }
    )


def fill(path: str, document_id: int) -> str:
    values = {"document_id": document_id, "job_id": 1, "version": "tiny-b", "batch_id": 1, "name": "report.json"}
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def login(app, token: str) -> tuple[TestClient, str]:
    """A browser-like client logged in with ``token``, and its session's CSRF token."""
    browser = TestClient(app, follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/ui/login").text).group(1)
    answer = browser.post("/ui/login", data={"token": token, "csrf": csrf, "next": "/ui/queue"})
    assert answer.status_code == 303, answer.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/ui/queue").text).group(1)
    return browser, csrf


def test_every_route_is_in_the_role_table(app):
    routes = app_routes(app)
    assert routes - TABLE.keys() == set(), "new routes: give each a row in TABLE (who may call it)"
    assert TABLE.keys() - routes == set(), "TABLE lists routes the app no longer has"


def test_auth_matrix(app, client, tokens, headers, submit):
    document_id = submit()["id"]
    client.post("/models/retrain", headers=headers["admin"])  # job 1 exists (and fails fast)
    sessions = {role: login(app, tokens[name]) for role, name in zip(ROLES, ("ada", "rui", "root"), strict=True)}
    anonymous = TestClient(app, follow_redirects=False)
    cells = 0
    for method, template in sorted(app_routes(app)):
        who, body = TABLE[(method, template)]
        url = fill(template, document_id)
        where = f"{method} {template}"
        if who == PUBLIC:
            assert anonymous.request(method, url).status_code < 400, where
            cells += 1
        elif template.startswith("/ui"):
            answer = anonymous.request(method, url)
            if method == "GET":  # a page without a session: to the login, and back here after it
                assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login?next="), where
            else:  # a form post without a session has no CSRF token
                assert answer.status_code == 403 and "CSRF" in answer.text, where
            cells += 1
            for role in ROLES:
                browser, csrf = sessions[role]
                if method == "POST":
                    assert browser.post(url, data={"label": "B", "version": "1"}).status_code == 403, (where, role)
                    answer = browser.post(url, data={"csrf": csrf, "label": "B", "version": "1"})
                else:
                    answer = browser.get(url)
                allowed = who in (PAGE, FORM) or role in who
                if allowed:  # the login form answers 401 here: these posts carry no API token
                    expected = (200, 303, 409, 422) + ((401,) if template == "/ui/login" else ())
                    assert answer.status_code in expected, (where, role, answer.status_code)
                else:
                    assert answer.status_code == 403 and role in answer.text, (where, role, answer.text)
                cells += 1
                if template == "/ui/logout":  # log back in for the routes that follow
                    sessions[role] = login(app, tokens[{"submitter": "ada", "reviewer": "rui", "admin": "root"}[role]])
        else:
            for name, extra in (("no token", {}), ("unknown token", auth("not-a-token"))):
                answer = anonymous.request(method, url, json=body, headers=extra)
                assert answer.status_code == 401, (where, name, answer.text)
                assert answer.headers["www-authenticate"] == "Bearer", (where, name)
                cells += 1
            for role in ROLES:
                answer = anonymous.request(method, url, json=body, headers=headers[role])
                if role in who:
                    assert answer.status_code not in (401, 403), (where, role, answer.text)
                    assert answer.status_code < 500, (where, role, answer.text)
                else:
                    assert answer.status_code == 403 and role in answer.json()["detail"], (where, role, answer.text)
                cells += 1
    print(f"\nauth matrix: {len(app_routes(app))} routes, {cells} cells")
    assert cells >= 5 * len([k for k, (who, _) in TABLE.items() if isinstance(who, frozenset)])
