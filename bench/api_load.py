"""Load test of ``POST /documents`` against a real uvicorn process on loopback.

Starts ``partnership serve`` in a temporary folder (SQLite database, its own
model registry), then runs a bounded async httpx client at each concurrency
level for ``--duration`` seconds and prints p50 / p99 latency, requests/s,
errors and the server process's peak resident memory, next to a baseline
measured in the same run: the model alone, in process, one document at a time,
with the same pipeline settings as the server (extraction, and evidence only
when ``--explain-on-submit`` puts it in the response too): the floor the
service adds its HTTP, storage and audit to.

    .venv/bin/python bench/api_load.py                  # 60 s at 1, 16 and 64 clients
    .venv/bin/python bench/api_load.py --clients 1,16 --duration 20 --model models/v20261125-0412

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
import psutil

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


def _baseline(
    models: Path, texts: list[str], extract: bool, explain: bool, seconds: float = 10.0, threads: int | None = None
) -> list[float]:
    """In-process latency of the model alone, one document per call, on a worker thread as the server's batcher
    runs it (torch's main-thread thread pool behaves differently).

    Like for like: the pipeline is built exactly as the server's ``ModelHolder`` builds it (extraction, and
    evidence only when the server computes it in the response too), so the difference is the service's own cost.
    """
    import threading

    found: list[list[float]] = []
    if threads:  # torch's intra-op threads; on an oversubscribed machine 2 threads were 5-10x slower than 1
        import torch

        torch.set_num_threads(threads)
    worker = threading.Thread(target=lambda: found.append(_time_pipeline(models, texts, extract, explain, seconds)))
    worker.start()
    worker.join()
    return found[0]


def _time_pipeline(models: Path, texts: list[str], extract: bool, explain: bool, seconds: float) -> list[float]:
    from api.serving import ModelHolder

    holder = ModelHolder(models, extract=extract, explain=explain)  # the server's own way to load the model
    holder.load_serving()
    pipeline = holder.pipeline
    assert pipeline is not None and pipeline.explain == ("all" if explain else "none")
    pipeline.predict(texts[:2])
    latencies, deadline, i = [], time.perf_counter() + seconds, 0
    while time.perf_counter() < deadline or len(latencies) < 20:  # enough samples for a p50 on a busy machine
        started = time.perf_counter()
        pipeline.predict([texts[i % len(texts)]])
        latencies.append(time.perf_counter() - started)
        i += 1
    return latencies


class PeakMemory:
    """Samples the resident memory of a process and its children every 0.2 s; ``peak`` in bytes."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = False
        import threading

        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                rss = self.process.memory_info().rss
                rss += sum(c.memory_info().rss for c in self.process.children(recursive=True))
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            time.sleep(0.2)

    def stop(self) -> int:
        self._stop = True
        self._thread.join(timeout=2)
        return self.peak


def start_server(work: Path, models: Path, database_url: str, *, extract: bool, explain: bool) -> tuple:
    """``partnership serve`` in a subprocess on a free loopback port; returns (Popen, base URL, log path)."""
    port = _free_port()
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        PARTNERSHIP_VAR_DIR=str(work / "var"),
        PARTNERSHIP_MODELS_DIR=str(models),
        PARTNERSHIP_DATABASE_URL=database_url,
        PARTNERSHIP_EXTRACT=str(extract).lower(),
        PARTNERSHIP_EXPLAIN_ON_SUBMIT=str(explain).lower(),
        PARTNERSHIP_RATE_LIMIT_PER_MINUTE="0",  # the service is measured, not its per-token limit
    )
    log_path = work / f"server-{port}.log"
    log = log_path.open("w")
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command + ["--log-level", "warning"], cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).json().get("model_version"):
                return server, url, log_path
        except (httpx.HTTPError, ValueError):
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            print(log_path.read_text()[-3000:])
            server.kill()
            raise SystemExit("the server did not come up")
        time.sleep(0.3)


def stop_server(server: subprocess.Popen | None) -> None:
    if server is None:
        return
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def make_token(database_url: str, name: str = "bench") -> str:
    """A submitter account in a freshly migrated database; returns its token."""
    from api.store import queries
    from api.store.db import Database

    db = Database(database_url)
    db.upgrade()
    with db.session() as session:
        token = queries.create_user(session, name, "submitter")[1]
    db.dispose()
    return token


def parse_levels(values: list[str]) -> list[int]:
    """``--clients 1,16,64`` or ``--clients 1 16 64``."""
    return [int(v) for value in values for v in value.split(",") if v.strip()]


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
    parser.add_argument("--clients", nargs="+", default=["1,16,64"], help="Concurrency levels (default 1,16,64).")
    parser.add_argument("--model", type=Path, default=None, help="A model version folder (default: the serving one).")
    parser.add_argument("--extract", choices=("auto", "on", "off"), default="auto", help="Stakeholder extraction.")
    parser.add_argument("--explain-on-submit", action="store_true", help="Evidence sentences in the response too.")
    parser.add_argument(
        "--baseline-threads",
        type=int,
        default=1,
        help="torch threads for the baseline (default 1: the service's one-client latency matched 1, not 2).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (database, server log).")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    work = Path(tempfile.mkdtemp(prefix="partnership-bench-"))
    server = None
    levels = parse_levels(args.clients)
    try:
        models, origin = _prepare(work, args.model)
        from api.serving import extraction_available

        extract = {"on": True, "off": False, "auto": extraction_available()}[args.extract]
        database_url = f"sqlite:///{work / 'var' / 'bench.db'}"
        texts = _texts()
        # the baseline first, alone: right after startup the server's own background work (model loading,
        # workers) competed with it and made it 5-10x slower than the service itself
        baseline = _baseline(
            models, texts, extract, args.explain_on_submit, min(10.0, args.duration), args.baseline_threads
        )
        import torch

        baseline_threads = torch.get_num_threads()
        token = make_token(database_url)
        server, url, _ = start_server(work, models, database_url, extract=extract, explain=args.explain_on_submit)
        print(
            f"model: {origin}; extraction {'on' if extract else 'off'}; "
            f"evidence {'in the response' if args.explain_on_submit else 'on first view'} (baseline alike); "
            f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; {args.duration:.0f} s per level",
            flush=True,
        )
        results = []
        for n in levels:
            memory = PeakMemory(server.pid)
            result = asyncio.run(_level(url, token, texts, n, args.duration))
            result["peak_rss"] = memory.stop()
            result["load"] = os.getloadavg()[0]
            results.append(result)
    finally:
        stop_server(server)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")

    header = (
        f"{'what':<38}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'peak RSS MB':>13}{'load':>6}"
    )
    print("\n" + header)
    what = f"baseline: in process, {baseline_threads} thr"
    print(
        f"{what:<38}{len(baseline):>9}{0:>8}{len(baseline) / sum(baseline):>9.1f}"
        f"{_quantile(baseline, 0.5) * 1000:>9.1f}{_quantile(baseline, 0.99) * 1000:>9.1f}{'':>13}{'':>6}"
    )
    failed = 0
    for r in results:
        lat = r["latencies"]
        failed += len(r["errors"])
        what = f"POST /documents, {r['clients']} client(s)"
        print(
            f"{what:<38}{len(lat):>9}{len(r['errors']):>8}"
            f"{len(lat) / r['elapsed']:>9.1f}{_quantile(lat, 0.5) * 1000:>9.1f}{_quantile(lat, 0.99) * 1000:>9.1f}"
            f"{r['peak_rss'] / 1e6:>13.0f}{r['load']:>6.1f}"
        )
        for error in r["errors"][:3]:
            print(f"    error: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
