"""The LLM measured honestly: its labels beside the fine-tuned model's on the same documents.

``partnership evaluate --llm local [--limit N]`` calls :func:`evaluate_llm`. It reports

- the LLM's accuracy and macro-F1 (an ``unknown`` answer counts as wrong), how often it answered,
  and chance level;
- the fine-tuned model's accuracy and macro-F1 on the same documents;
- their agreement, and the fine-tuned model's accuracy where they agree vs where they disagree
  (what a second opinion is worth), and both accuracies on the documents flagged ``needs_review``;
- throughput (documents per second) and a few rationales to read.

``--limit N`` takes a fixed pseudo-random sample (by a hash of the id, not the first N of a file)
so that repeated runs measure the same documents. Prompts are developed on train/validation
(``python -m training.evaluate_llm --split validation``), never tuned on test.
LLM labels are only measured here: they never become training data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from classifier.taxonomy import LABELS
from training.evaluate import classification_metrics, confusion_text

__all__ = ["agreement_metrics", "evaluate_llm", "format_llm_report", "label_metrics", "sample_rows"]

Progress = Callable[[int, int], None]


def sample_rows(ids: list[str], limit: int | None, seed: str = "llm-eval-v1") -> list[int]:
    """Indices of a deterministic pseudo-random sample of ``limit`` documents (all when None), in input order."""
    if limit is None or limit >= len(ids):
        return list(range(len(ids)))
    ranked = sorted(range(len(ids)), key=lambda i: hashlib.sha256(f"{seed}:{ids[i]}".encode()).hexdigest())
    return sorted(ranked[: max(limit, 0)])


def label_metrics(gold: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy and macro-F1 where ``predicted`` is -1 for ``unknown`` (counted wrong), plus answer rate."""
    gold, predicted = np.asarray(gold), np.asarray(predicted)
    n = len(gold)
    answered = predicted >= 0
    labels = list(range(len(LABELS)))
    confusion = [[int(np.sum((gold == g) & (predicted == p))) for p in [*labels, -1]] for g in labels]
    return {
        "documents": n,
        "accuracy": float(np.mean(gold == predicted)) if n else float("nan"),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)) if n else 0.0,
        "answered": float(np.mean(answered)) if n else 0.0,
        "accuracy_answered": float(np.mean(gold[answered] == predicted[answered])) if answered.any() else float("nan"),
        "predicted": {
            ("unknown" if p < 0 else LABELS[p]): int(c) for p, c in sorted(Counter(predicted.tolist()).items())
        },
        "confusion_with_unknown": confusion,
    }


def agreement_metrics(gold: np.ndarray, llm: np.ndarray, tuned: np.ndarray, review: np.ndarray) -> dict:
    """Agreement between the LLM and the fine-tuned model, and who is right where they agree or not."""
    gold, llm, tuned, review = map(np.asarray, (gold, llm, tuned, review))
    agree = llm == tuned

    def acc(mask: np.ndarray, pred: np.ndarray) -> float | None:
        return float(np.mean(pred[mask] == gold[mask])) if mask.any() else None

    return {
        "agreement": float(np.mean(agree)) if len(gold) else float("nan"),
        "agreement_answered": float(np.mean(agree[llm >= 0])) if (llm >= 0).any() else None,
        "agree_n": int(agree.sum()),
        "disagree_n": int((~agree).sum()),
        "tuned_accuracy_agree": acc(agree, tuned),
        "tuned_accuracy_disagree": acc(~agree, tuned),
        "llm_accuracy_disagree": acc(~agree, llm),
        "review_n": int(review.sum()),
        "tuned_accuracy_review": acc(review.astype(bool), tuned),
        "llm_accuracy_review": acc(review.astype(bool), llm),
    }


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def format_llm_report(result: dict) -> str:
    """The plain-text report ``partnership evaluate --llm`` prints."""
    llm, n = result["llm"], result["llm"]["documents"]
    lines = [
        f"LLM {result['backend']} ({result['model']}, method {result['method']}) on {result['where']}: "
        f"{n} documents{' (sample of ' + str(result['population']) + ')' if result['population'] > n else ''}",
        f"gold labels: {', '.join(f'{k} {v}' for k, v in sorted(result['gold_counts'].items()))}",
        "",
        f"{'model':<40}{'macro-F1':>10}{'accuracy':>10}{'answered':>10}",
        f"{'LLM ' + result['backend']:<40}{llm['macro_f1']:>10.3f}{llm['accuracy']:>10.3f}{llm['answered']:>10.3f}",
    ]
    if result.get("tuned"):
        t = result["tuned"]
        lines.append(
            f"{'fine-tuned ' + result['tuned_version']:<40}{t['macro_f1']:>10.3f}{t['accuracy']:>10.3f}{1:>10.3f}"
        )
    lines.append(f"{'chance (uniform over 5)':<40}{'':>10}{0.2:>10.3f}")
    lines += ["", f"LLM accuracy on answered documents: {_fmt(llm['accuracy_answered'])}"]
    lines.append(f"LLM labels: {', '.join(f'{k} {v}' for k, v in llm['predicted'].items())}")
    if result.get("agreement"):
        a = result["agreement"]
        lines += [
            "",
            f"agreement LLM vs fine-tuned: {_fmt(a['agreement'])} ({a['agree_n']}/{n}; "
            f"{_fmt(a['agreement_answered'])} of answered)",
            f"fine-tuned accuracy where they agree:    {_fmt(a['tuned_accuracy_agree'])} (n={a['agree_n']})",
            f"fine-tuned accuracy where they disagree: {_fmt(a['tuned_accuracy_disagree'])} (n={a['disagree_n']}); "
            f"LLM accuracy there: {_fmt(a['llm_accuracy_disagree'])}",
            f"flagged needs_review: n={a['review_n']}, fine-tuned accuracy {_fmt(a['tuned_accuracy_review'])}, "
            f"LLM accuracy {_fmt(a['llm_accuracy_review'])}",
        ]
    lines += ["", "LLM confusion (rows gold, columns LLM label; last column unknown):"]
    names = (*LABELS, "?")
    width = 5
    lines.append("gold\\llm".ljust(10) + "".join(x.rjust(width) for x in names))
    for name, row in zip(LABELS, llm["confusion_with_unknown"], strict=True):
        lines.append(name.ljust(10) + "".join(str(v).rjust(width) for v in row))
    if result.get("tuned"):
        lines += ["", "fine-tuned confusion on the same documents:", confusion_text(result["tuned"]["confusion"])]
    lines += [
        "",
        f"throughput: {result['docs_per_second']:.3f} documents/s ({result['seconds']:.0f} s for {n}); "
        f"median latency {result['median_latency_ms'] / 1000:.1f} s; errors: {result['errors']}",
    ]
    if result["errors_by_kind"]:
        lines.append("error kinds: " + ", ".join(f"{k} {v}" for k, v in result["errors_by_kind"].items()))
    if result["examples"]:
        lines += ["", "rationales (first documents):"]
        for ex in result["examples"]:
            lines.append(
                f"- {ex['id']} gold {ex['gold']}, LLM {ex['label']}: {ex['rationale'] or '(' + str(ex['error']) + ')'}"
            )
    return "\n".join(lines)


def evaluate_llm(
    adviser,
    corpus_dir: Path,
    splits_file: Path,
    *,
    folder: Path | None = None,
    split: str = "test",
    data: Path | None = None,
    limit: int | None = None,
    int8: bool = False,
    rationales: int = 3,
    details: Path | None = None,
    progress: Progress | None = None,
) -> dict:
    """Run the adviser's pre-labels (and the fine-tuned version in ``folder``, if given) on one split.

    Only the first ``rationales`` documents get a generated rationale in scoring mode (the label does not
    depend on it and each costs a generation); ``details`` writes one JSON line per document.
    """
    from training.corpus import load_corpus
    from training.data import to_dataset_dict
    from training.splits import load_splits
    from training.train import columns

    if data is not None:
        from datasets import Dataset

        from training.corpus import CorpusRecord, read_jsonl
        from training.data import FEATURES

        rows = [CorpusRecord.model_validate(r).model_dump() for r in read_jsonl(data)]
        target = Dataset.from_list(rows, features=FEATURES)
        where = str(data)
    else:
        target = to_dataset_dict(load_corpus(corpus_dir), load_splits(splits_file))[split]
        where = f"{split} split"
    population = len(target)
    target = target.select(sample_rows(list(target["id"]), limit))
    ids, texts, gold = list(target["id"]), list(target["text"]), np.asarray(target["label"])

    stakeholders = adviser._extract(texts)
    result: dict = {"where": where, "population": population, "gold_counts": dict(Counter(LABELS[g] for g in gold))}

    tuned_labels = None
    predictions = None
    if folder is not None:
        from classifier.model import PartnershipModel

        model = PartnershipModel.load(folder, int8=int8)
        extractor = adviser.extractor if model.settings.input_format != "text" else None
        inputs = columns(target, model.settings.input_format, extractor)["text"]
        outputs = model.predict(inputs)
        probabilities = np.asarray([[o.probabilities[k] for k in LABELS] for o in outputs])
        tuned_labels = probabilities.argmax(1)
        review = np.asarray([o.confidence < model.settings.review_threshold for o in outputs])
        predictions = [{"label": LABELS[i]} for i in tuned_labels]
        result["tuned"] = classification_metrics(gold, probabilities)
        result["tuned_version"] = model.version + (" int8" if int8 else "")

    start = time.perf_counter()
    keep = adviser.rationale
    try:
        head = adviser.opinions(
            texts[:rationales], predictions[:rationales] if predictions else None, stakeholders[:rationales]
        )
        adviser.rationale = False
        offset = len(head)

        def shifted(done: int, total: int) -> None:
            if progress:
                progress(done + offset, len(texts))

        tail = adviser.opinions(
            texts[offset:], predictions[offset:] if predictions else None, stakeholders[offset:], progress=shifted
        )
    finally:
        adviser.rationale = keep
    opinions = head + tail
    seconds = time.perf_counter() - start

    llm = np.asarray([LABELS.index(o.label) if o.known else -1 for o in opinions])
    result |= {
        "backend": adviser.backend.name,
        "model": adviser.model_name,
        "method": adviser.method,
        "llm": label_metrics(gold, llm),
        "seconds": seconds,
        "docs_per_second": len(texts) / seconds if seconds else float("nan"),
        "median_latency_ms": float(np.median([o.latency_ms for o in opinions])) if opinions else 0.0,
        "errors": sum(not o.known for o in opinions),
        "errors_by_kind": dict(Counter(str(o.error).split(":")[0] for o in opinions if not o.known)),
        "examples": [
            {"id": i, "gold": LABELS[g], "label": o.label, "rationale": o.rationale, "error": o.error}
            for i, g, o in list(zip(ids, gold, opinions, strict=True))[:rationales]
        ],
    }
    if tuned_labels is not None:
        result["agreement"] = agreement_metrics(gold, llm, tuned_labels, review)
    if details is not None:
        details.parent.mkdir(parents=True, exist_ok=True)
        with details.open("w", encoding="utf-8") as out:
            for i, g, o in zip(ids, gold, opinions, strict=True):
                row = {"id": i, "gold": LABELS[g], **o.model_dump()}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    result["report"] = format_llm_report(result)
    return result


def main(argv: list[str] | None = None) -> None:
    """Prompt development on train/validation: ``python -m training.evaluate_llm --split validation``."""
    from classifier.llm import Adviser

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--backend", default="local")
    parser.add_argument("--method", default="auto", choices=("auto", "generate", "score"))
    parser.add_argument("--no-calibrate", action="store_true")
    parser.add_argument("--split", default="validation", choices=("train", "validation", "test"))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--model", type=Path, help="A fine-tuned version folder to compare with.")
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--splits", type=Path)
    parser.add_argument("--details", type=Path)
    parser.add_argument("--rationales", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--cache-dir", type=Path)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    from training.corpus import CORPUS_DIR
    from training.splits import SPLITS_FILE

    adviser = Adviser.from_config(
        args.backend,
        method=args.method,
        calibrate=not args.no_calibrate,
        cache_dir=args.cache_dir,
        threads=args.threads,
        timeout=args.timeout,
        concurrency=1,
    )
    result = evaluate_llm(
        adviser,
        args.corpus or CORPUS_DIR,
        args.splits or SPLITS_FILE,
        folder=args.model,
        split=args.split,
        limit=args.limit,
        rationales=args.rationales,
        details=args.details,
        progress=lambda done, total: print(f"{done}/{total}", end="\r", flush=True),
    )
    print(result["report"])


if __name__ == "__main__":
    main()
