"""Batch intake: attaching journaled predictions to a batch's documents, per document save vs one bulk per chunk.

    .venv/bin/python bench/batch_intake.py [--docs 800] [--chunk 16] [--rounds 3]
    PARTNERSHIP_TEST_POSTGRES_URL=postgresql://... .venv/bin/python bench/batch_intake.py   # SQLite and PostgreSQL

What ``api.jobs.batches._Ingest.step`` does after every journaled chunk, on a real
database migrated from scratch: ``per document`` is the old path (one
``save_prediction`` per document: a SELECT, an INSERT, a flush, an UPDATE and an
audit INSERT each, in one transaction per chunk), ``bulk`` the new one
(``attach_batch_predictions``: INSERT ... RETURNING, executemany UPDATE and audit
INSERT, one transaction per chunk). Both run in the same process, alternating
rounds on fresh batches of the same documents, so machine load hits both alike;
the figure is ms per document (median over rounds). PostgreSQL runs in its own
schema (``bench_batch_intake``, dropped first), never touching ``public``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from api.settings import Settings  # noqa: E402
from api.store import queries  # noqa: E402
from api.store.db import Database, empty_postgres  # noqa: E402

SCHEMA = "bench_batch_intake"


def payload(i: int) -> dict:
    """A prediction as the bulk journal holds it (probabilities, stakeholders, no evidence)."""
    probabilities = {"A": 0.31, "B": 0.22, "C": 0.19, "D": 0.16, "E": 0.12}
    return {
        "id": f"doc-{i}",
        "label": "A",
        "label_name": "City-Led",
        "confidence": 0.31,
        "probabilities": probabilities,
        "needs_review": True,
        "stakeholders": [{"name": "Velmora city council", "type": "government", "role": "lead", "start": 4, "end": 24}],
        "evidence": [],
        "testbed": False,
        "testbed_probability": 0.1,
        "international": "none",
        "model_version": "bench",
    }


def new_batch(db: Database, user_name: str, docs: int) -> int:
    with db.session() as session:
        user = queries.user_named(session, user_name)
        batch = queries.create_batch(
            session, filename="b.jsonl", kind="jsonl", folder="x", size_bytes=1, city=None, country=None, user=user
        )
        rows = [
            {"key": f"doc-{i}", "name": f"doc-{i}", "format": "txt", "text": "The council pays. " * 40, "city": "V"}
            for i in range(docs)
        ]
        queries.add_batch_documents(session, batch, rows)
        return batch.id


def per_document(db: Database, batch_id: int, rows: list[dict]) -> None:
    """The intake as it was: one save_prediction per document, one transaction per chunk."""
    with db.session() as session:
        missing = queries.batch_documents_without_prediction(session, batch_id, [r["key"] for r in rows])
        for row in rows:
            document_id = missing.pop(row["key"], None)
            if document_id is not None:
                queries.save_prediction(session, document_id, row["payload"], explained=False)


def bulk(db: Database, batch_id: int, rows: list[dict]) -> None:
    with db.session() as session:
        queries.attach_batch_predictions(session, batch_id, rows)


def run(url: str, docs: int, chunk: int, rounds: int) -> dict[str, float]:
    db = Database(url)
    db.upgrade()
    with db.session() as session:
        queries.create_user(session, "bench", "submitter")
    rows = [{"key": f"doc-{i}", "payload": payload(i)} for i in range(docs)]
    timings: dict[str, list[float]] = {"per document (before)": [], "bulk per chunk (after)": []}
    for _ in range(rounds):
        for name, attach in (("per document (before)", per_document), ("bulk per chunk (after)", bulk)):
            batch_id = new_batch(db, "bench", docs)
            started = time.perf_counter()
            for start in range(0, docs, chunk):
                attach(db, batch_id, rows[start : start + chunk])
            timings[name].append((time.perf_counter() - started) * 1000 / docs)
            with db.session() as session:  # every document got exactly one prediction
                left = queries.batch_documents_without_prediction(session, batch_id, [r["key"] for r in rows])
                assert not left, f"{name}: {len(left)} documents without a prediction"
    db.dispose()
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=800)
    parser.add_argument("--chunk", type=int, default=16, help="documents per transaction (BATCH_CHUNK_SIZE)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    backends = {}
    with tempfile.TemporaryDirectory() as tmp:
        backends["sqlite"] = f"sqlite:///{Path(tmp) / 'bench.db'}"
        if os.environ.get("PARTNERSHIP_TEST_POSTGRES_URL"):
            backends["postgresql"] = empty_postgres(os.environ["PARTNERSHIP_TEST_POSTGRES_URL"], schema=SCHEMA)
        print(
            f"{args.docs} documents, {args.chunk} per transaction, median of {args.rounds} rounds; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        for backend, url in backends.items():
            figures = run(url, args.docs, args.chunk, args.rounds)
            before, after = figures["per document (before)"], figures["bulk per chunk (after)"]
            for name, value in figures.items():
                print(f"{backend:10} {name:24} {value:7.2f} ms/document")
            print(f"{backend:10} {'speed-up':24} {before / after:7.1f}x")
        if "postgresql" in backends:
            engine = create_engine(Settings(database_url=os.environ["PARTNERSHIP_TEST_POSTGRES_URL"]).database)
            with engine.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            engine.dispose()


if __name__ == "__main__":
    main()
