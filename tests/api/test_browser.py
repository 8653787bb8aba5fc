"""End to end in a real headless browser (Debian's chromium driven by Playwright): log in, open the queue,
correct a label with a keyboard shortcut, and see the correction in the document's audit trail; script in
a document's text, name, city and a review comment shows as text and never runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.live import serve

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
)


@pytest.fixture
def server(app):
    """The app on a real uvicorn server on a free loopback port."""
    with serve(app) as url:
        yield url


def test_reviewer_corrects_a_label_in_the_browser_and_sees_it_in_the_audit_trail(server, app, corpus, tmp_path):
    from playwright.sync_api import sync_playwright

    from api.store import queries

    with app.state.partnership.db.session() as session:
        reviewer_token = queries.create_user(session, "rui", "reviewer")[1]
        submitter_token = queries.create_user(session, "ada", "submitter")[1]
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {submitter_token}"}) as api:
        created = [
            api.post("/documents", json={"text": r.text, "name": f"doc-{r.id}", "city": "Velmora"}).json()
            for r in corpus[:3]
        ]
    first_in_queue = min(
        created,
        key=lambda d: (
            sorted(d["prediction"]["probabilities"].values())[-1]
            - sorted(d["prediction"]["probabilities"].values())[-2],
            d["id"],
        ),
    )
    predicted = first_in_queue["prediction"]["label"]
    corrected = next(label for label in "ABCDE" if label != predicted)
    key = str("ABCDE".index(corrected) + 1)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        external: list[str] = []
        page.on("request", lambda r: external.append(r.url) if not r.url.startswith(server) else None)
        page.goto(f"{server}/ui/queue")
        assert "/ui/login" in page.url
        page.fill("#token", reviewer_token)
        page.click("button[type=submit].primary")
        page.wait_for_url(f"{server}/ui/queue")
        links = page.locator("a.doc-link")
        assert links.count() == 3
        assert links.first.inner_text() == first_in_queue["name"]
        links.first.click()
        page.wait_for_url(f"{server}/ui/documents/{first_in_queue['id']}")
        assert page.locator(".bars li").count() == 5
        assert page.locator("#llm #llm-none").is_visible() and page.locator("#ask-llm").is_visible()  # not asked yet
        page.fill("#comment", "the company leads and pays")
        page.locator("body").click()  # leave the comment box so the shortcut is a shortcut, not typing
        page.keyboard.press(key)
        page.wait_for_load_state("networkidle")
        assert (
            page.locator(".flash").inner_text().startswith(f"Document {first_in_queue['id']} reviewed as {corrected}")
        )
        page.goto(f"{server}/ui/documents/{first_in_queue['id']}")
        history = page.locator("#history").inner_text()
        assert "reviewed" in history and "rui" in history
        assert f"label: {predicted} → {corrected}" in history
        assert "the company leads and pays" in history and "tiny-a" in history
        page.screenshot(path=str(tmp_path / "document.png"), full_page=True)
        browser.close()
    assert external == []


SCRIPT = "<script>window.__xss=1</script>"
IMAGE = "<img src=x onerror=window.__xss=1>"


def test_script_in_documents_and_comments_shows_as_text_and_never_runs(server, app, corpus):
    from playwright.sync_api import sync_playwright

    from api.store import queries

    with app.state.partnership.db.session() as session:
        reviewer_token = queries.create_user(session, "rui", "reviewer")[1]
        submitter_token = queries.create_user(session, "ada", "submitter")[1]
    text = f"{corpus[0].text}\n\nThe operator wrote {SCRIPT} and then {IMAGE} in the annex."
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {submitter_token}"}) as api:
        created = api.post("/documents", json={"text": text, "name": f"annex {IMAGE}", "city": f"Velmora {SCRIPT}"})
        assert created.status_code == 201, created.text
        document_id = created.json()["id"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))

        def assert_inert() -> None:
            page.wait_for_load_state("networkidle")
            assert page.evaluate("typeof window.__xss") == "undefined", page.url
            assert page.locator("img[src=x]").count() == 0 and page.locator("script:text('__xss')").count() == 0

        page.goto(f"{server}/ui/login")
        page.fill("#token", reviewer_token)
        page.click("button[type=submit].primary")
        page.wait_for_url(f"{server}/ui/queue")
        assert_inert()
        assert IMAGE in page.locator("a.doc-link").first.inner_text()
        page.goto(f"{server}/ui/documents/{document_id}")
        assert_inert()
        shown = page.locator(".doc-text").inner_text()
        assert SCRIPT in shown and IMAGE in shown
        page.fill("#comment", f"looks fine {SCRIPT} {IMAGE}")
        page.locator("body").click()
        with page.expect_navigation():
            page.keyboard.press("1")
        assert_inert()
        page.goto(f"{server}/ui/documents/{document_id}")
        assert_inert()
        history = page.locator("#history").inner_text()
        assert f"looks fine {SCRIPT} {IMAGE}" in history
        page.goto(f"{server}/ui/dashboard")
        assert_inert()
        browser.close()
    assert not [url for url in requested if url.rstrip("/").endswith("/x")]  # the image was never even fetched


def test_asking_the_llm_returns_at_once_and_the_answer_arrives_without_a_reload(settings):
    """The button comes back while the LLM (a loopback endpoint the test holds) is still thinking; the page says
    so, and its script swaps the answer in when it is stored, leaving a half-typed comment alone."""
    from playwright.sync_api import sync_playwright

    from api.app import create_app
    from api.store import queries
    from tests.api.test_llm_review import BLOCKING_ANSWER, blocking_llm_server
    from tests.conftest import TEXTS

    with blocking_llm_server() as llm:
        overrides = {"llm_backend": "openai", "llm_base_url": llm.url, "llm_model": "blocking", "llm_timeout": 120.0}
        app = create_app(settings.model_copy(update={**overrides, "llm_review": "off"}))
        with serve(app) as server:
            with app.state.partnership.db.session() as session:
                reviewer_token = queries.create_user(session, "rui", "reviewer")[1]
                submitter_token = queries.create_user(session, "ada", "submitter")[1]
            with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {submitter_token}"}) as api:
                document_id = api.post("/documents", json={"text": TEXTS["D"], "name": "district"}).json()["id"]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                page = browser.new_page()
                external: list[str] = []
                page.on("request", lambda r: external.append(r.url) if not r.url.startswith(server) else None)
                page.goto(f"{server}/ui/login")
                page.fill("#token", reviewer_token)
                page.click("button[type=submit].primary")
                page.wait_for_url(f"{server}/ui/queue")
                page.goto(f"{server}/ui/documents/{document_id}")
                with page.expect_navigation():
                    page.click("#ask-llm")
                llm.wait_received(1)
                assert llm.answered == 0  # the page is back while the LLM still holds the question
                assert page.locator("#llm-waiting").is_visible() and page.locator("#ask-llm").count() == 0
                assert "waiting for the LLM" in page.locator("#llm-waiting").inner_text()
                page.evaluate("window.__samePage = true")  # gone if the page reloads
                page.fill("#comment", "typed while the LLM thinks")
                llm.release()
                page.wait_for_selector("#llm-agreement", timeout=60_000)
                assert page.evaluate("window.__samePage") is True
                assert page.input_value("#comment") == "typed while the LLM thinks"
                assert page.locator("#llm-waiting").count() == 0 and page.locator("#ask-llm").is_visible()
                assert BLOCKING_ANSWER["rationale"] in page.locator("#llm-rationale").inner_text()
                browser.close()
    assert external == [] and llm.received == 1
