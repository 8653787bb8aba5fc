"""End-to-end classification speed and memory, against the plain fp32 pipeline in the same run.

Each configuration runs in its own subprocess so that its peak RSS is its own.
Documents are corpus texts cut or repeated to about 300 words.

    .venv/bin/python bench/classify.py [--docs 400] [--model models/<version>]

Prints docs/s and peak RSS for: the baseline (fp32, batch 32, with extraction)
and the tuned configurations, and each one's speed-up over the baseline.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = {
    "baseline fp32 (batch 32)": {"int8": False, "batch": 32, "extract": True},
    "int8 (batch 64)": {"int8": True, "batch": 64, "extract": True},
    "int8, no extraction (batch 64)": {"int8": True, "batch": 64, "extract": False},
}


def _documents(n: int) -> list[str]:
    from training.corpus import load_corpus

    texts, words = [], []
    for record in load_corpus():
        words += record.text.split()
        while len(words) >= 300:
            texts.append(" ".join(words[:300]))
            words = words[300:]
        if len(texts) >= n:
            break
    return texts[:n]


def _run_one(model: str, n: int, config: dict) -> dict:
    import torch

    from classifier.pipeline import Pipeline

    torch.set_num_threads(2)
    docs = _documents(n)
    pipeline = Pipeline.load(Path(model), int8=config["int8"], extract=config["extract"], explain=False)
    pipeline.predict(docs[:8])  # warm-up: first batch pays for lazy initialization
    started = time.perf_counter()
    for i in range(0, len(docs), config["batch"]):
        pipeline.predict(docs[i : i + config["batch"]])
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"docs": len(docs), "seconds": seconds, "docs_per_s": len(docs) / seconds, "peak_rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--model", help="model folder (default: the serving version)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_run_one(args.model, args.docs, CONFIGS[args.child])))
        return
    if not args.model:
        from api.settings import get_settings
        from training.registry import ModelRegistry

        args.model = str(ModelRegistry(get_settings().models_dir).serving_path())
    results = {}
    for name in CONFIGS:
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, "--docs", str(args.docs), "--model", args.model],
            check=True,
            capture_output=True,
            text=True,
        )
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    base = results["baseline fp32 (batch 32)"]["docs_per_s"]
    print(f"{'configuration':<34}{'docs/s':>9}{'x baseline':>12}{'peak RSS MB':>13}")
    for name, r in results.items():
        print(f"{name:<34}{r['docs_per_s']:>9.1f}{r['docs_per_s'] / base:>12.2f}{r['peak_rss_mb']:>13.0f}")


if __name__ == "__main__":
    main()
