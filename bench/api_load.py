"""Load test of ``POST /documents`` against a real uvicorn process on loopback.

Starts ``partnership serve`` in a temporary folder (SQLite database, its own
model registry), then runs a bounded async httpx client at each concurrency
level for ``--duration`` seconds and prints p50 / p99 latency and requests/s,
next to a baseline measured in the same run: the model alone, in process, one
document at a time (the floor the service adds its HTTP, storage and audit to).

    .venv/bin/python bench/api_load.py                  # 60 s at 1 and 16 clients
    .venv/bin/python bench/api_load.py --duration 20 --model models/v20261125-0412

Without ``--model`` the serving version of ``models/`` is used; if there is
none, a stand-in with the same architecture (MiniLM-L6, 256 tokens) is
fine-tuned for a few seconds first, since latency does not depend on accuracy.
Only 127.0.0.1 is contacted. Exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAX_REQUESTS_PER_LEVEL = 200_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stand_in_model(folder: Path) -> Path:
    """A quickly fine-tuned MiniLM with the production input length, for timing only."""
    from classifier.taxonomy import INTERNATIONAL_LEVELS, LABELS
    from training.corpus import load_corpus
    from training.finetune import FinetuneConfig, finetune

    records = load_corpus()
    rows = [r for label in LABELS for r in [x for x in records if x.label == label][:6]]
    data = {
        "text": [r.text for r in rows],
        "label": [LABELS.index(r.label) for r in rows],
        "testbed": [r.testbed for r in rows],
        "international": [INTERNATIONAL_LEVELS.index(r.international) for r in rows],
    }
    config = FinetuneConfig(epochs=1, max_length=256, freeze_layers=4, batch_size=8)
    run = finetune(data, data, config, version="bench-stand-in")
    run.model.save(folder)
    return folder


def _prepare(work: Path, model: Path | None) -> tuple[Path, str]:
    """A models folder with one serving version; returns it and the version's source description."""
    from api.settings import get_settings
    from training.registry import ModelRegistry

    models = work / "models"
    models.mkdir()
    if model is None:
        serving = ModelRegistry(get_settings().models_dir).serving_path()
        if serving is not None:
            model, origin = serving, f"serving version {serving.name}"
        else:
            print("no serving model: fine-tuning a stand-in (same architecture) for timing ...", flush=True)
            model, origin = _stand_in_model(work / "stand-in"), "stand-in MiniLM (1 epoch)"
    else:
        origin = f"version folder {model}"
    (models / model.name).symlink_to(model.resolve(), target_is_directory=True)
    ModelRegistry(models).promote(model.name, "benchmark")
    return models, origin


def _texts() -> list[str]:
    from training.corpus import load_corpus

    return [r.text for r in load_corpus()][:200]


def _baseline(models: Path, texts: list[str], extract: bool, seconds: float = 10.0) -> list[float]:
    """In-process latency of the model alone (same pipeline settings as the server), one document per call,
    on a worker thread as the server's batcher runs it (torch's main-thread thread pool behaves differently)."""
    import threading

    found: list[list[float]] = []
    worker = threading.Thread(target=lambda: found.append(_time_pipeline(models, texts, extract, seconds)))
    worker.start()
    worker.join()
    return found[0]


def _time_pipeline(models: Path, texts: list[str], extract: bool, seconds: float) -> list[float]:
    from classifier.pipeline import Pipeline
    from training.registry import ModelRegistry

    pipeline = Pipeline.load(ModelRegistry(models).serving_path(), extract=extract, explain=False)
    pipeline.predict(texts[:2])
    latencies, deadline, i = [], time.perf_counter() + seconds, 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        pipeline.predict([texts[i % len(texts)]])
        latencies.append(time.perf_counter() - started)
        i += 1
    return latencies


async def _level(url: str, token: str, texts: list[str], clients: int, duration: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as client:
        for i in range(min(4, clients * 2)):  # warm-up, not counted
            await client.post("/documents", json={"text": texts[i % len(texts)], "city": "Warmup"})
        deadline = time.perf_counter() + duration
        counter = iter(range(MAX_REQUESTS_PER_LEVEL))

        async def worker() -> None:
            for n in counter:
                if time.perf_counter() >= deadline:
                    return
                started = time.perf_counter()
                try:
                    response = await client.post(
                        "/documents", json={"text": texts[n % len(texts)], "city": "Bench", "submitter": "bench"}
                    )
                    if response.status_code != 201:
                        errors.append(f"{response.status_code}: {response.text[:120]}")
                        continue
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return {"clients": clients, "latencies": latencies, "errors": errors, "elapsed": elapsed}


def _quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds per concurrency level (default 60).")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16], help="Concurrency levels (default 1 16).")
    parser.add_argument("--model", type=Path, default=None, help="A model version folder (default: the serving one).")
    parser.add_argument("--extract", choices=("auto", "on", "off"), default="auto", help="Stakeholder extraction.")
    parser.add_argument("--explain-on-submit", action="store_true", help="Evidence sentences in the response too.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (database, server log).")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    work = Path(tempfile.mkdtemp(prefix="partnership-bench-"))
    server = None
    try:
        models, origin = _prepare(work, args.model)
        from api.serving import extraction_available
        from api.store import queries
        from api.store.db import Database

        extract = {"on": True, "off": False, "auto": extraction_available()}[args.extract]
        database_url = f"sqlite:///{work / 'var' / 'bench.db'}"
        db = Database(database_url)
        db.upgrade()
        with db.session() as session:
            token = queries.create_user(session, "bench", "submitter")[1]
        db.dispose()
        port = _free_port()
        env = dict(
            os.environ,
            PARTNERSHIP_VAR_DIR=str(work / "var"),
            PARTNERSHIP_MODELS_DIR=str(models),
            PARTNERSHIP_DATABASE_URL=database_url,
            PARTNERSHIP_EXTRACT=str(extract).lower(),
            PARTNERSHIP_EXPLAIN_ON_SUBMIT=str(args.explain_on_submit).lower(),
        )
        log = (work / "server.log").open("w")
        command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        server = subprocess.Popen(command + ["--log-level", "warning"], cwd=ROOT, env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).json().get("model_version"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print((work / "server.log").read_text()[-3000:])
                raise SystemExit("the server did not come up")
            time.sleep(0.3)
        texts = _texts()
        print(
            f"model: {origin}; extraction {'on' if extract else 'off'}; "
            f"evidence {'in the response' if args.explain_on_submit else 'on first view'}; "
            f"{os.cpu_count()} cores; {args.duration:.0f} s per level",
            flush=True,
        )
        baseline = _baseline(models, texts, extract, seconds=min(10.0, args.duration))
        results = [asyncio.run(_level(url, token, texts, n, args.duration)) for n in args.clients]
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")

    print(f"\n{'what':<38}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    print(
        f"{'baseline: model alone, in process':<38}{len(baseline):>9}{0:>8}{len(baseline) / sum(baseline):>9.1f}"
        f"{_quantile(baseline, 0.5) * 1000:>9.1f}{_quantile(baseline, 0.99) * 1000:>9.1f}"
    )
    failed = 0
    for r in results:
        lat = r["latencies"]
        failed += len(r["errors"])
        what = f"POST /documents, {r['clients']} client(s)"
        print(
            f"{what:<38}{len(lat):>9}{len(r['errors']):>8}"
            f"{len(lat) / r['elapsed']:>9.1f}{_quantile(lat, 0.5) * 1000:>9.1f}{_quantile(lat, 0.99) * 1000:>9.1f}"
        )
        for error in r["errors"][:3]:
            print(f"    error: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
