"""Metrics and reports: accuracy, macro-F1, per-class scores, confusion matrix, calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from classifier.calibration import coverage_curve, expected_calibration_error
from classifier.taxonomy import LABELS

__all__ = [
    "INT8_TOLERANCE",
    "classification_metrics",
    "confusion_png",
    "confusion_text",
    "evaluate_version",
    "evidence_faithfulness",
    "format_report",
    "int8_check",
]

# int8 inference is allowed for a version when its test macro-F1 is at most this much below fp32's (issue 4).
INT8_TOLERANCE = 0.01


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray, names: tuple[str, ...] = LABELS) -> dict:
    """Everything the report prints for one classifier on one split."""
    labels = np.asarray(labels)
    predicted = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=list(range(len(names))), zero_division=0
    )
    return {
        "documents": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(
            f1_score(labels, predicted, average="macro", labels=list(range(len(names))), zero_division=0)
        ),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
        },
        "confusion": confusion_matrix(labels, predicted, labels=list(range(len(names)))).tolist(),
        "ece": expected_calibration_error(probabilities, labels),
        "coverage": coverage_curve(probabilities, labels),
    }


def confusion_text(confusion: list[list[int]], names: tuple[str, ...] = LABELS) -> str:
    """The confusion matrix as aligned text: rows are gold labels, columns predictions."""
    width = max(4, *(len(str(v)) + 1 for row in confusion for v in row))
    lines = ["gold\\pred".ljust(10) + "".join(n.rjust(width) for n in names)]
    for name, row in zip(names, confusion, strict=True):
        lines.append(name.ljust(10) + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def confusion_png(confusion: list[list[int]], path: Path, title: str, names: tuple[str, ...] = LABELS) -> Path:
    """Save the confusion matrix as a PNG heat map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(4.6, 4.0), dpi=120)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=9)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            color = "white" if matrix[i, j] > matrix.max() / 2 else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=color, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def format_report(title: str, metrics: dict, comparison: dict[str, dict]) -> str:
    """A plain-text report: comparison table, per-class scores, confusion matrix, calibration."""
    lines = [title, "", f"{'model':<34}{'macro-F1':>10}{'accuracy':>10}"]
    for name, m in comparison.items():
        lines.append(f"{name:<34}{m['macro_f1']:>10.3f}{m['accuracy']:>10.3f}")
    lines += ["", f"{'label':<8}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>9}"]
    for label, s in metrics["per_class"].items():
        lines.append(f"{label:<8}{s['precision']:>10.3f}{s['recall']:>10.3f}{s['f1']:>10.3f}{s['support']:>9}")
    lines += [
        "",
        confusion_text(metrics["confusion"]),
        "",
        f"ECE {metrics['ece']:.3f}",
        "",
        "threshold coverage accuracy",
    ]
    lines += [f"{r['threshold']:>9.2f}{r['coverage']:>9.3f}{r['accuracy']:>9.3f}" for r in metrics["coverage"]]
    return "\n".join(lines)


def int8_check(
    folder: Path,
    texts: list[str],
    labels: np.ndarray,
    backends: tuple[str, ...] = ("torch", "onnx"),
    fp32_probabilities: np.ndarray | None = None,
) -> dict:
    """Macro-F1 of the int8 model on each backend against fp32 on the same inputs, and whether int8 is
    allowed (at most ``INT8_TOLERANCE`` below fp32). ``texts`` are model inputs, already formatted."""
    from classifier.model import PartnershipModel

    labels = np.asarray(labels)
    if fp32_probabilities is None:
        fp32_probabilities = PartnershipModel.load(folder).probabilities(texts)
    fp32_f1 = classification_metrics(labels, fp32_probabilities)["macro_f1"]
    out: dict = {"fp32_macro_f1": fp32_f1, "tolerance": INT8_TOLERANCE, "documents": int(len(labels))}
    for backend in backends:
        probabilities = PartnershipModel.load(folder, int8=True, backend=backend).probabilities(texts)
        out[backend] = _int8_row(labels, probabilities, fp32_probabilities)
    out["allowed"] = all(out[b]["allowed"] for b in backends)
    return out


def _int8_row(labels: np.ndarray, probabilities: np.ndarray, fp32: np.ndarray) -> dict:
    f1 = classification_metrics(labels, probabilities)["macro_f1"]
    fp32_f1 = classification_metrics(labels, fp32)["macro_f1"]
    return {
        "macro_f1": f1,
        "delta": f1 - fp32_f1,
        "allowed": bool(fp32_f1 - f1 <= INT8_TOLERANCE),
        "labels_changed": int((probabilities.argmax(1) != fp32.argmax(1)).sum()),
        "max_probability_difference": float(np.abs(probabilities - fp32).max()),
    }


def format_int8_check(check: dict) -> str:
    """The int8 rows of a report: macro-F1, the difference to fp32 and the verdict per backend."""
    lines = [f"int8 check (tolerance {check['tolerance']}): fp32 macro-F1 {check['fp32_macro_f1']:.4f}"]
    for backend in ("torch", "onnx"):
        if backend in check:
            r = check[backend]
            lines.append(
                f"  {backend} int8 macro-F1 {r['macro_f1']:.4f} (delta {r['delta']:+.4f}, {r['labels_changed']} labels"
                f" changed, max |dp| {r['max_probability_difference']:.3f}): "
                + ("allowed" if r["allowed"] else "NOT allowed")
            )
    return "\n".join(lines)


def evaluate_version(
    folder: Path,
    corpus_dir: Path,
    splits_file: Path,
    *,
    data: Path | None = None,
    int8: bool = False,
    backend: str = "torch",
) -> str:
    """Evaluate a saved version on the test split (or a labeled JSONL file), beside the baselines.

    With ``int8`` the report adds the int8 check: fp32 on the same documents and the macro-F1 difference."""
    from classifier.model import PartnershipModel
    from training.baselines import tfidf_logreg, zero_shot_similarity
    from training.corpus import load_corpus
    from training.data import to_dataset_dict
    from training.splits import load_splits
    from training.train import columns

    model = PartnershipModel.load(folder, int8=int8, backend=backend)
    dataset = to_dataset_dict(load_corpus(corpus_dir), load_splits(splits_file))
    if data is not None:
        from datasets import Dataset

        from training.corpus import CorpusRecord, read_jsonl
        from training.data import FEATURES

        rows = [CorpusRecord.model_validate(r).model_dump() for r in read_jsonl(data)]
        target = Dataset.from_list(rows, features=FEATURES)
    else:
        target = dataset["test"]
    extractor = None
    if model.settings.input_format != "text":
        from classifier.extraction import extract as extractor
    test = columns(target, model.settings.input_format, extractor)
    train = columns(dataset["train"])
    labels = np.asarray(test["label"])
    probabilities = model.probabilities(test["text"])
    metrics = classification_metrics(labels, probabilities)
    comparison = {f"fine-tuned {model.version}{f' int8 ({backend})' if int8 else ''}": metrics}
    check = None
    if int8:
        fp32 = PartnershipModel.load(folder).probabilities(test["text"])
        comparison[f"fine-tuned {model.version} fp32"] = classification_metrics(labels, fp32)
        check = int8_check(folder, test["text"], labels, backends=(), fp32_probabilities=fp32)
        check[backend] = _int8_row(labels, probabilities, fp32)
        check["allowed"] = check[backend]["allowed"]
    tfidf = tfidf_logreg(train["raw_text"], train["label"])
    comparison["TF-IDF + logistic regression"] = classification_metrics(labels, tfidf.predict_proba(test["raw_text"]))
    comparison["zero-shot MiniLM similarity"] = classification_metrics(labels, zero_shot_similarity(test["raw_text"]))
    where = str(data) if data else "test split"
    report = format_report(f"{model.version} on {where} ({len(labels)} documents)", metrics, comparison)
    return report + ("\n\n" + format_int8_check(check) if check else "")


def evidence_faithfulness(model, texts: list[str], seed: int = 13) -> dict:
    """Does removing the top evidence sentence lower the predicted class's probability more than removing
    a random other sentence? Mean drops over ``texts`` and the share of documents where it does."""
    import random

    from classifier.explain import occlusion_evidence, split_sentences

    probabilities = model.probabilities(texts)
    predicted = probabilities.argmax(1).tolist()
    evidence = occlusion_evidence(texts, predicted, model.probabilities, top_k=1)
    rng = random.Random(seed)
    variants, owners = [], []
    for i, (text, found) in enumerate(zip(texts, evidence, strict=True)):
        spans = [s for s in split_sentences(text) if not found or s != (found[0].start, found[0].end)]
        if not found or not spans:
            continue
        start, end = rng.choice(spans)
        variants += [text[: found[0].start] + text[found[0].end :], text[:start] + text[end:]]
        owners.append(i)
    if not owners:
        return {"documents": 0}
    after = model.probabilities(variants)
    top_drops, random_drops = [], []
    for k, i in enumerate(owners):
        base = probabilities[i, predicted[i]]
        top_drops.append(base - after[2 * k, predicted[i]])
        random_drops.append(base - after[2 * k + 1, predicted[i]])
    top, rand = np.asarray(top_drops), np.asarray(random_drops)
    return {
        "documents": len(owners),
        "mean_drop_top_evidence": float(top.mean()),
        "mean_drop_random_sentence": float(rand.mean()),
        "share_top_drop_greater_or_equal": float((top >= rand).mean()),
    }
