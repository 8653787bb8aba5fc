"""Fixtures for the service: a real database (SQLite file, and PostgreSQL when
``PARTNERSHIP_TEST_POSTGRES_URL`` is set), the real tiny model in a temporary registry, and users."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.store import queries
from api.store.db import Database, empty_postgres
from training.registry import ModelRegistry

POSTGRES_URL = os.environ.get("PARTNERSHIP_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(scope="session")
def splits(corpus):
    """The frozen splits; while a corpus is still being written without them, a deterministic stand-in."""
    from training.splits import assign_splits, load_splits

    found = load_splits()
    if all(r.id in found for r in corpus):
        return found
    return assign_splits(corpus, {k: v for k, v in found.items() if k in {r.id for r in corpus}})


def install_version(models_dir: Path, source: Path, name: str, macro_f1: float | None = None) -> Path:
    """A model version folder ``name`` made of links to ``source``'s weights, with its own settings and metrics."""
    folder = models_dir / name
    folder.mkdir(parents=True)
    for item in source.iterdir():
        if item.name not in ("partnership.json", "metrics.json"):
            (folder / item.name).symlink_to(item)
    settings = json.loads((source / "partnership.json").read_text())
    settings["version"] = name
    (folder / "partnership.json").write_text(json.dumps(settings))
    if macro_f1 is not None:
        metrics = {"test": {"macro_f1": macro_f1, "accuracy": macro_f1}, "comparison": {}}
        (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


@pytest.fixture(scope="session", autouse=True)
def _drop_own_postgres_schema():
    """The run's PostgreSQL schema (see ``database_url``) is dropped when the run ends."""
    yield
    if POSTGRES_URL:
        empty_postgres(POSTGRES_URL, schema=f"test_{os.getpid()}", recreate=False)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """An empty database of each backend; on PostgreSQL a schema of this process, dropped and recreated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return empty_postgres(POSTGRES_URL, schema=f"test_{os.getpid()}")  # runs side by side keep apart


@pytest.fixture
def models_dir(tmp_path, tiny_model_dir) -> Path:
    """A registry with version ``tiny-a`` serving (recorded test macro-F1 0.5) and ``tiny-b`` on disk."""
    root = tmp_path / "models"
    install_version(root, tiny_model_dir, "tiny-a", 0.5)
    install_version(root, tiny_model_dir, "tiny-b", 0.4)
    ModelRegistry(root).promote("tiny-a", "test fixture")
    return root


@pytest.fixture
def settings(tmp_path, database_url, models_dir) -> Settings:
    return Settings(
        var_dir=tmp_path / "var",
        models_dir=models_dir,
        database_url=database_url,
        extract=False,
        explain_on_submit=False,
        retrain_epochs=1,
        retrain_max_length=64,
        retrain_batch_size=8,
        retrain_freeze_layers=4,
        retrain_learning_rate=1e-4,
        retrain_baselines=False,
    )


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def db(app, client) -> Database:
    """The app's database (after the client started it, so migrations have run)."""
    return app.state.partnership.db


@pytest.fixture
def tokens(db) -> dict[str, str]:
    """One user per role, and a second reviewer; name -> token."""
    found = {}
    with db.session() as session:
        for name, role in (("ada", "submitter"), ("rui", "reviewer"), ("rita", "reviewer"), ("root", "admin")):
            found[name] = queries.create_user(session, name, role)[1]
    return found


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def headers(tokens) -> dict[str, dict[str, str]]:
    """Authorization headers by role: submitter, reviewer, reviewer2, admin."""
    return {
        "submitter": auth(tokens["ada"]),
        "reviewer": auth(tokens["rui"]),
        "reviewer2": auth(tokens["rita"]),
        "admin": auth(tokens["root"]),
    }


@pytest.fixture
def submit(client, headers, corpus):
    """Submit corpus texts (or given text) as JSON; returns the response body."""

    def _submit(text: str | None = None, *, index: int = 0, city: str = "Velmora", **extra) -> dict:
        body = {"text": text or corpus[index].text, "city": city, "country": "Testland", "submitter": "tests", **extra}
        response = client.post("/documents", json=body, headers=headers["submitter"])
        assert response.status_code == 201, response.text
        return response.json()

    return _submit
