"""Bulk job throughput and memory per engine, against the single-process engine in the same run.

    .venv/bin/python bench/bulk.py [--docs 2000] [--model MODEL_FOLDER] [--workers 2] [--batch-size 32]

The documents are corpus texts (cycled when more are asked for than the corpus
holds, each copy under its own id) in one JSONL file with a city column. Each
configuration runs ``run_bulk`` in its own subprocess into a new output folder,
while this process samples the RSS of that subprocess and all its descendants
(pool workers, Ray's raylet, GCS and actors) with psutil; the peak is reported.

Rows: ``single`` (one process, all threads: the baseline), ``single, one core``
(the same, pinned to one core: the scaling reference), ``local`` (one worker
per core), ``ray`` (a local Ray instance, one actor per worker), all with
explain="none", and ``local`` again with the default explain="review".
docs/s is end to end (model loading and Ray start-up included, as a user waits
for it); "steady" counts from the first journaled batch to the last.

Without --model the serving version is used; without one, a model with the
base encoder and an untrained head is written to a temporary folder (same
speed; with near-uniform probabilities every document then needs review, the
worst case for explain="review").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = {
    "single (baseline)": {"engine": "single", "explain": "none"},
    # The same process pinned to one core: how the local engine scales from one core to two.
    "single, one core": {"engine": "single", "explain": "none", "cpus": [0]},
    "local": {"engine": "local", "explain": "none"},
    "ray (local instance)": {"engine": "ray", "explain": "none"},
    "local, explain=review": {"engine": "local", "explain": "review"},
}
BASELINE = "single (baseline)"


def write_documents(n: int, path: Path) -> None:
    """``n`` corpus texts as JSONL (id, text, city, country), cycling through the corpus."""
    from training.corpus import load_corpus

    records = load_corpus()
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            r = records[i % len(records)]
            row = {"id": f"bench-{i:06d}", "text": r.text, "city": r.city, "country": r.country}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def untrained_model(folder: Path) -> Path:
    """The base MiniLM with a fresh head, saved as a model version (for speed only: its labels mean nothing)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from classifier.base_model import minilm_folder, quiet_transformers
    from classifier.model import ModelSettings, PartnershipModel
    from classifier.taxonomy import LABELS

    quiet_transformers()
    torch.manual_seed(13)
    base = minilm_folder()
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=len(LABELS))
    PartnershipModel(model, AutoTokenizer.from_pretrained(base), ModelSettings(version="bench-untrained")).save(folder)
    return folder


def run_child(args: argparse.Namespace) -> dict:
    """One configuration, in this process: run_bulk with a progress hook that times each journaled batch."""
    from api.jobs.bulk import BulkOptions, run_bulk

    config = CONFIGS[args.child]
    if "cpus" in config:
        os.sched_setaffinity(0, config["cpus"])  # before torch and ONNX Runtime size their thread pools
    options = BulkOptions(
        model=args.model,
        engine=config["engine"],
        workers=args.workers,
        batch_size=args.batch_size,
        explain=config["explain"],
        backend=args.backend,
    )
    marks: list[tuple[float, int]] = []
    started = time.perf_counter()
    result = run_bulk(
        [args.input], Path(args.output), options, lambda done, _: marks.append((time.perf_counter(), done))
    )
    first, last = marks[0], marks[-1]
    steady = (last[1] - first[1]) / (last[0] - first[0]) if last[0] > first[0] else float("nan")
    rows = [json.loads(line) for line in (Path(args.output) / "predictions.jsonl").open(encoding="utf-8")]
    return {
        "classified": result.classified,
        "seconds": result.seconds,
        "docs_per_s": result.classified / result.seconds,
        "first_batch_s": first[0] - started,
        "steady_docs_per_s": steady,
        "needs_review": sum(r["needs_review"] for r in rows),
        "with_evidence": sum(bool(r["evidence"]) for r in rows),
    }


def measure(name: str, args: argparse.Namespace, workdir: Path) -> dict:
    """Run one configuration in a subprocess; peak RSS summed over its process tree, sampled every 50 ms."""
    import psutil

    output = workdir / f"out-{list(CONFIGS).index(name)}"
    command = [sys.executable, __file__, "--child", name, "--input", args.input, "--output", str(output)]
    command += ["--model", args.model, "--workers", str(args.workers), "--batch-size", str(args.batch_size)]
    command += ["--backend", args.backend]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=ROOT)
        root, peak = psutil.Process(process.pid), 0
        while process.poll() is None:
            total = 0
            try:
                tree = [root] + root.children(recursive=True)
            except psutil.NoSuchProcess:
                break
            for proc in tree:
                try:
                    total += proc.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            peak = max(peak, total)
            time.sleep(0.05)
        if process.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{name} failed:\n{err.read().decode(errors='replace')[-4000:]}")
        out.seek(0)
        result = json.loads(out.read().decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = peak / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--model", help="model folder (default: the serving version)")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes and Ray actors")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx"], help="model runtime, all engines")
    parser.add_argument("--only", action="append", choices=list(CONFIGS), help="run only these (repeatable)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as tmp:
        workdir = Path(tmp)
        if not args.model:
            from api.settings import get_settings
            from training.registry import ModelRegistry

            serving = ModelRegistry(get_settings().models_dir).serving_path()
            args.model = str(serving) if serving else str(untrained_model(workdir / "model"))
        args.input = str(workdir / "documents.jsonl")
        write_documents(args.docs, Path(args.input))
        names = [n for n in CONFIGS if not args.only or n in args.only]
        print(
            f"{args.docs} documents, model {args.model}, {args.backend}, {args.workers} workers, "
            f"batch {args.batch_size}, "
            f"{os.cpu_count()} cores",
            flush=True,
        )
        results = {}
        for name in names:
            results[name] = measure(name, args, workdir)
            print(f"  {name}: {json.dumps({k: round(v, 2) for k, v in results[name].items()})}", flush=True)
    base = results.get(BASELINE)
    header = f"{'engine':<24}{'docs/s':>8}{'x base':>8}{'steady':>8}{'x base':>8}{'1st batch s':>12}{'peak RSS MB':>13}"
    print(header)
    for name, r in results.items():
        ratio = r["docs_per_s"] / base["docs_per_s"] if base else float("nan")
        steady_ratio = r["steady_docs_per_s"] / base["steady_docs_per_s"] if base else float("nan")
        print(
            f"{name:<24}{r['docs_per_s']:>8.2f}{ratio:>8.2f}{r['steady_docs_per_s']:>8.2f}{steady_ratio:>8.2f}"
            f"{r['first_batch_s']:>12.1f}{r['peak_rss_mb']:>13.0f}"
        )


if __name__ == "__main__":
    main()
