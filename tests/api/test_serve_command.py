"""`partnership serve --demo`: demo accounts with fresh tokens and the samples stored and classified, once."""

from __future__ import annotations

from api.commands.serve import DEMO_ACCOUNTS, load_demo
from api.store import queries
from api.store.db import Database


def test_demo_loads_every_sample_once_and_prints_working_tokens(settings):
    tokens = load_demo(settings)
    assert set(tokens) == {name for name, _ in DEMO_ACCOUNTS}
    db = Database(settings.database)
    with db.session() as session:
        documents, total = queries.list_documents(session, page_size=50)
        assert total == 5 == len(list(settings.samples_dir.glob("*")))
        assert {d.status for d in documents} == {"predicted"} and all(d.city for d in documents)
        assert {d.format for d in documents} == {"txt", "md", "html"}
        assert queries.user_by_token(session, tokens["demo-admin"]).role == "admin"
        assert queries.user_by_token(session, tokens["demo-reviewer"]).role == "reviewer"
    again = load_demo(settings)
    with db.session() as session:
        assert queries.list_documents(session)[1] == 5  # samples are not added twice
        assert queries.user_by_token(session, tokens["demo-admin"]) is None  # the old demo token stopped working
        assert queries.user_by_token(session, again["demo-admin"]).name == "demo-admin"
    db.dispose()
