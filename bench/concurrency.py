"""Concurrent submitters against a real server: every 2xx is a stored row, and nothing errors.

Starts ``partnership serve`` in a subprocess (as ``bench/api_load.py`` does) on
an empty SQLite file and, when a URL is given, an emptied PostgreSQL database;
``--clients`` submitters then POST documents for ``--duration`` seconds each.
Printed per database: 2xx responses, errors, rows in ``documents`` (must equal
the 2xx count), requests/s, p50 / p99 latency.

    .venv/bin/python bench/concurrency.py --clients 16 --duration 60 \\
        --postgres postgresql://partnership:partnership@127.0.0.1:5432/partnership_bench

The PostgreSQL database's public schema is dropped and recreated: give it a
throwaway database. Exits 1 on any error or a count mismatch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import _prepare, _quantile, _texts, make_token, start_server, stop_server  # noqa: E402

from api.store.db import empty_postgres  # noqa: E402


async def submitters(url: str, token: str, texts: list[str], clients: int, duration: float) -> dict:
    """``clients`` loops POSTing documents until ``duration`` passes; counts 2xx and errors, keeps latencies."""
    ok: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as client:
        deadline = time.perf_counter() + duration

        async def worker(number: int) -> None:
            n = number
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                body = {"text": texts[n % len(texts)], "city": f"C{number}", "submitter": "concurrency"}
                n += clients
                try:
                    response = await client.post("/documents", json=body)
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                if 200 <= response.status_code < 300:
                    ok.append(time.perf_counter() - started)
                else:
                    errors.append(f"{response.status_code}: {response.text[:160]}")

        began = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        elapsed = time.perf_counter() - began
    return {"ok": ok, "errors": errors, "elapsed": elapsed}


def document_rows(database_url: str) -> int:
    from api.store.tables import Document

    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(Document)).scalar_one()
    engine.dispose()
    return int(count)


def run(work: Path, models: Path, database_url: str, clients: int, duration: float, extract: bool) -> dict:
    """One database: a fresh server, the submitters, then the row count (the server stopped first)."""
    token = make_token(database_url, "concurrency")
    server, url, log = start_server(work, models, database_url, extract=extract, explain=False)
    try:
        result = asyncio.run(submitters(url, token, _texts(), clients, duration))
    finally:
        stop_server(server)
    result["rows"] = document_rows(database_url)
    result["log_errors"] = [line for line in log.read_text().splitlines() if "Error" in line][:5]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="Concurrent submitters (default 16).")
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds per database (default 60).")
    parser.add_argument("--postgres", default=os.environ.get("PARTNERSHIP_BENCH_POSTGRES_URL"), help="A throwaway DB.")
    parser.add_argument("--model", type=Path, default=None, help="A model version folder (default: the serving one).")
    parser.add_argument("--extract", choices=("on", "off"), default="off", help="Stakeholder extraction (off).")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    work = Path(tempfile.mkdtemp(prefix="partnership-concurrency-"))
    results = {}
    try:
        models, origin = _prepare(work, args.model)
        print(
            f"model: {origin}; extraction {args.extract}; {args.clients} submitters x {args.duration:.0f} s; "
            f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        databases = {"sqlite": f"sqlite:///{work / 'var' / 'concurrency.db'}"}
        if args.postgres:
            databases["postgresql"] = empty_postgres(args.postgres)
        for name, url in databases.items():
            results[name] = run(work, models, url, args.clients, args.duration, args.extract == "on")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'database':<12}{'2xx':>7}{'errors':>8}{'rows':>7}{'match':>7}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}")
    failed = False
    for name, r in results.items():
        match = r["rows"] == len(r["ok"])
        failed |= bool(r["errors"]) or not match
        print(
            f"{name:<12}{len(r['ok']):>7}{len(r['errors']):>8}{r['rows']:>7}{'yes' if match else 'NO':>7}"
            f"{len(r['ok']) / r['elapsed']:>8.1f}{_quantile(r['ok'], 0.5) * 1000:>9.0f}"
            f"{_quantile(r['ok'], 0.99) * 1000:>9.0f}"
        )
        for error in r["errors"][:3] + r["log_errors"][:3]:
            print(f"    {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
