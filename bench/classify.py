"""End-to-end classification speed and memory, against the plain fp32 pipeline in the same run.

Each configuration runs in its own subprocess so that its peak RSS is its own (the model loads
once per process, before the clock starts). Documents are corpus texts cut to 300 words (all
longer than the 256 tokens read, so every batch pads to 256 and length sorting cannot help here).

    .venv/bin/python bench/classify.py [--docs 400] [--model models/<version>] [--only NAME ...]

Prints docs/s and peak RSS for the baseline (torch fp32, batch 32, extraction then model), the
tuned configurations and the stages alone, each one's speed-up over the baseline, and how far its
predictions are from the baseline's (labels that differ, largest probability difference).
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

BASELINE = "baseline torch fp32 (batch 32)"
_E2E = {"extract": True, "batch": 64}
CONFIGS: dict[str, dict] = {
    BASELINE: {"int8": False, "batch": 32, "extract": True},
    "torch int8": {**_E2E, "int8": True},
    "onnx fp32": {**_E2E, "backend": "onnx"},
    "onnx int8": {**_E2E, "backend": "onnx", "int8": True},
    "onnx int8 + overlap": {**_E2E, "backend": "onnx", "int8": True, "threads": 1, "overlap": True},
    "stage: extraction only": {"stage": "extract", "batch": 64},
    "stage: onnx int8 model, 2 threads": {"backend": "onnx", "int8": True, "batch": 64, "extract": False},
    "stage: onnx int8 model, 1 thread": {"backend": "onnx", "int8": True, "threads": 1, "batch": 64, "extract": False},
    "stage: torch fp32 model, 2 threads": {"batch": 32, "extract": False},
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

    torch.set_num_threads(config.get("threads") or 2)
    docs = _documents(n)
    if config.get("stage") == "extract":
        from classifier.extraction import extract, load_extractor

        load_extractor()
        extract(docs[:8])
        started = time.perf_counter()
        for i in range(0, len(docs), config["batch"]):
            extract(docs[i : i + config["batch"]])
        predictions = []
    else:
        pipeline = Pipeline.load(
            Path(model),
            int8=config.get("int8", False),
            extract=config["extract"],
            explain=False,
            backend=config.get("backend", "torch"),
            threads=config.get("threads"),
            overlap=config.get("overlap", False),
        )
        pipeline.predict(docs[:8])  # warm-up: first batch pays for lazy initialization
        started = time.perf_counter()
        predictions = []
        for i in range(0, len(docs), config["batch"]):
            predictions += pipeline.predict(docs[i : i + config["batch"]])
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "docs": len(docs),
        "seconds": seconds,
        "docs_per_s": len(docs) / seconds,
        "peak_rss_mb": peak_mb,
        "labels": [p.label for p in predictions],
        "probabilities": [[p.probabilities[k] for k in sorted(p.probabilities)] for p in predictions],
        "stakeholders": sum(len(p.stakeholders) for p in predictions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--model", help="model folder (default: the serving version)")
    parser.add_argument("--rounds", type=int, default=2, help="best of N runs per configuration")
    parser.add_argument("--only", nargs="+", choices=list(CONFIGS), help="configurations (the baseline always runs)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_run_one(args.model, args.docs, CONFIGS[args.child])))
        return
    if not args.model:
        from api.settings import get_settings
        from training.registry import ModelRegistry

        args.model = str(ModelRegistry(get_settings().models_dir).serving_path())
    # Build the ONNX files first, so that no timed child pays for the export; in a subprocess, since a
    # child's ru_maxrss starts from its parent's resident size at fork.
    code = "from classifier.model import PartnershipModel as M; [M.load(%r, int8=i, backend='onnx') for i in (0, 1)]"
    subprocess.run([sys.executable, "-c", code % args.model], check=True, cwd=ROOT, capture_output=True)
    names = [BASELINE] + [c for c in CONFIGS if c != BASELINE and (not args.only or c in args.only)]
    results: dict[str, dict] = {}
    for round_ in range(args.rounds):  # best of N rounds, alternating order: the load on a shared machine drifts
        for name in names if round_ % 2 == 0 else names[::-1]:
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, "--docs", str(args.docs), "--model", args.model],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            if name not in results or r["docs_per_s"] > results[name]["docs_per_s"]:
                results[name] = {**r, "peak_rss_mb": max(r["peak_rss_mb"], results.get(name, r)["peak_rss_mb"])}
    base = results[BASELINE]
    print(f"{args.docs} documents of 300 words, best of {args.rounds} rounds, model {args.model}")
    header = f"{'configuration':<36}{'docs/s':>8}{'x base':>8}{'peak RSS MB':>13}{'labels differ':>15}{'max |dp|':>10}"
    print(header)
    for name, r in results.items():
        differ, dp = "", ""
        if r["labels"]:
            differ = str(sum(a != b for a, b in zip(r["labels"], base["labels"], strict=True)))
            pairs = zip(r["probabilities"], base["probabilities"], strict=True)
            dp = f"{max(abs(x - y) for p, q in pairs for x, y in zip(p, q, strict=True)):.4f}"
        print(
            f"{name:<36}{r['docs_per_s']:>8.1f}{r['docs_per_s'] / base['docs_per_s']:>8.2f}"
            f"{r['peak_rss_mb']:>13.0f}{differ:>15}{dp:>10}"
        )


if __name__ == "__main__":
    main()
