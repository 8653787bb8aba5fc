"""The review page over HTTP: login with a token, CSRF, queue, review form with locking, dashboard, escaping."""

from __future__ import annotations

import re

import pytest

from api.routes.pages import bar_chart, highlight


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _login(client, token: str) -> str:
    page = client.get("/ui/login")
    response = client.post("/ui/login", data={"token": token, "csrf": _csrf(page.text), "next": "/ui/queue"})
    assert response.status_code == 200 and response.url.path == "/ui/queue"
    return _csrf(response.text)


def test_pages_need_a_login_and_the_login_needs_csrf(client, tokens):
    for path in ("/ui/queue", "/ui/dashboard", "/ui/documents/1"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/ui/login?next=")
    page = client.get("/ui/login")
    assert client.post("/ui/login", data={"token": tokens["rui"], "csrf": "forged"}).status_code == 403
    wrong = client.post("/ui/login", data={"token": "nope", "csrf": _csrf(page.text)})
    assert wrong.status_code == 401 and "Unknown token" in wrong.text
    assert "partnership_session" not in client.cookies or "uid" not in client.cookies.get("partnership_session", "")


def test_review_through_the_form_with_stakeholders_and_a_stale_form_gets_409(client, tokens, submit):
    first, second = submit(index=0), submit(index=1)
    csrf = _login(client, tokens["rui"])
    queue = client.get("/ui/queue")
    assert f"/ui/documents/{first['id']}" in queue.text and f"/ui/documents/{second['id']}" in queue.text
    page = client.get(f"/ui/documents/{first['id']}")
    assert page.status_code == 200 and 'id="review-form"' in page.text and "Evidence" in page.text
    form = {
        "csrf": csrf,
        "version": "1",
        "label": "D",
        "sh_text": ["Pretoria East Development Company", ""],
        "sh_type": ["private", "government"],
        "sh_role": ["operator", "lead"],
        "testbed": "no",
        "international": "none",
        "comment": "jointly owned company",
    }
    done = client.post(f"/ui/documents/{first['id']}/review", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] in (f"/ui/documents/{second['id']}", "/ui/queue")
    stale = client.post(f"/ui/documents/{first['id']}/review", data={**form, "label": "E"})
    assert stale.status_code == 409 and "changed by someone else" in stale.text
    view = client.get(f"/ui/documents/{first['id']}")
    assert "reviewed" in view.text and "jointly owned company" in view.text
    assert 'class="sh t-private r-operator' in view.text or "Pretoria East Development Company" in view.text
    assert client.post(f"/ui/documents/{first['id']}/review", data={**form, "csrf": "x"}).status_code == 403


def test_submitters_see_documents_but_get_no_review_form(client, tokens, submit):
    doc = submit()
    csrf = _login(client, tokens["ada"])
    page = client.get(f"/ui/documents/{doc['id']}")
    assert page.status_code == 200 and 'id="review-form"' not in page.text
    response = client.post(f"/ui/documents/{doc['id']}/review", data={"csrf": csrf, "version": "1", "label": "A"})
    assert response.status_code == 403


def test_dashboard_draws_counts_and_the_serving_model(client, tokens, submit):
    submit(city="Velmora")
    submit(index=1, city="Ostrava")
    _login(client, tokens["root"])
    page = client.get("/ui/dashboard")
    assert page.status_code == 200
    assert page.text.count("<svg") == 2 and "Velmora" in page.text and "Ostrava" in page.text
    assert "tiny-a" in page.text and 'id="by-status"' in page.text


def test_everything_user_supplied_is_escaped(client, tokens, headers):
    evil = '<script>alert("x")</script>'
    response = client.post(
        "/documents",
        json={"text": f"The council pays. {evil} A vendor installs.", "name": evil, "city": evil},
        headers=headers["submitter"],
    )
    doc = response.json()
    _login(client, tokens["rui"])
    for path in (f"/ui/documents/{doc['id']}", "/ui/queue", "/ui/dashboard"):
        html = client.get(path).text
        assert evil not in html and "&lt;script&gt;" in html


def test_no_page_loads_anything_from_the_internet(client, tokens, submit):
    doc = submit()
    _login(client, tokens["rui"])
    for path in (f"/ui/documents/{doc['id']}", "/ui/queue", "/ui/dashboard", "/ui/login"):
        html = client.get(path).text
        assert not re.search(r'(src|href)="(https?:)?//', html), path
    for asset in ("/static/style.css", "/static/review.js"):
        body = client.get(asset).text
        assert "http://" not in body and "https://" not in body and "@import" not in body


@pytest.mark.parametrize(
    ("stakeholders", "expected"),
    [
        ([{"name": "Lumatek GmbH", "type": "private", "role": "operator", "start": 10, "end": 22}], "Lumatek GmbH"),
        ([{"name": "Lumatek GmbH", "type": "private", "role": "operator"}], "Lumatek GmbH"),
    ],
)
def test_highlight_marks_stakeholders_by_offset_or_name(stakeholders, expected):
    text = "Installed Lumatek GmbH lamps. The city pays."
    segments = highlight(text, stakeholders, [{"start": 30, "end": 44, "sentence": "The city pays."}])
    assert "".join(s["text"] for s in segments) == text
    marked = [s for s in segments if s["type"]]
    assert [s["text"] for s in marked] == [expected] and marked[0]["role"] == "operator"
    assert [s["text"] for s in segments if s["evidence"]] == ["The city pays."]


def test_bar_chart_geometry():
    chart = bar_chart([("A", 4), ("B", 2)])
    assert [r["count"] for r in chart["rows"]] == [4, 2]
    assert chart["rows"][0]["width"] == 2 * chart["rows"][1]["width"]
