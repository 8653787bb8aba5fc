"""One training run end to end: corpus splits → fine-tune → evaluate with baselines → a version folder.

The test split is only read here, after model selection on validation, to
write the version's metrics; the promotion rule compares test macro-F1 with the
serving version's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict

from classifier.calibration import expected_calibration_error, softmax
from classifier.features import format_input
from classifier.taxonomy import INTERNATIONAL_LEVELS, LABELS
from training.ablation import ablation_markdown
from training.baselines import tfidf_logreg, zero_shot_similarity
from training.evaluate import (
    classification_metrics,
    confusion_png,
    confusion_text,
    evidence_faithfulness,
    int8_check,
)
from training.finetune import FinetuneConfig, Progress, finetune
from training.registry import ModelRegistry

__all__ = ["PROMOTION_TOLERANCE", "TrainResult", "columns", "train_version"]

PROMOTION_TOLERANCE = 0.005
EXPLANATION_SAMPLE = 60
Extractor = Callable[[list[str]], list[list]]


@dataclass
class TrainResult:
    """The new version, its metrics, and whether it now serves."""

    version: str
    path: Path
    metrics: dict
    promoted: bool
    reason: str


def columns(split: Dataset, input_format: str = "text", extractor: Extractor | None = None) -> dict[str, list]:
    """A split as the lists :func:`finetune` expects, with model inputs formatted for ``input_format``."""
    texts = list(split["text"])
    facts: list[list] = [[] for _ in texts]
    if input_format != "text":
        if extractor is None:
            raise ValueError(f"input format {input_format!r} needs the stakeholder extractor")
        facts = [[s.model_dump() if hasattr(s, "model_dump") else s for s in found] for found in extractor(texts)]
    return {
        "id": list(split["id"]),
        "text": [format_input(t, f, input_format) for t, f in zip(texts, facts, strict=True)],
        "raw_text": texts,
        "label": list(split["label"]),
        "testbed": [bool(v) for v in split["testbed"]],
        "international": list(split["international"]),
    }


def _aspect_scores(model, texts: list[str], testbed: list[bool], international: list[int]) -> dict:
    _, pooled = model.encode(texts)
    probs = model.aspect_probabilities(pooled)
    out = {}
    if "testbed" in probs:
        out["testbed_accuracy"] = float(np.mean(probs["testbed"].argmax(1) == np.asarray(testbed, dtype=int)))
    if "international" in probs:
        out["international_accuracy"] = float(np.mean(probs["international"].argmax(1) == np.asarray(international)))
    return out


def _int8_section(check: dict | None) -> str:
    if not check:
        return ""
    rows = "\n".join(
        f"| {backend} | {check[backend]['macro_f1']:.4f} | {check[backend]['delta']:+.4f} |"
        f" {check[backend]['labels_changed']} | {'yes' if check[backend]['allowed'] else 'no'} |"
        for backend in ("torch", "onnx")
        if backend in check
    )
    return f"""
## int8 inference
Test macro-F1 of the int8 model (dynamic quantization of the linear layers) against fp32
{check["fp32_macro_f1"]:.4f}; int8 is allowed when it is at most {check["tolerance"]} below fp32.

| int8 backend | macro-F1 | delta | labels changed | allowed |
|---|---|---|---|---|
{rows}
"""


def _model_card(version: str, metrics: dict, config: FinetuneConfig, ablation: dict | None = None) -> str:
    test = metrics["test"]
    ex = {"documents": 0, **metrics["explanation"]}
    nan = float("nan")
    rows = "\n".join(
        f"| {name} | {m['macro_f1']:.3f} | {m['accuracy']:.3f} |" for name, m in metrics["comparison"].items()
    )
    per_class = "\n".join(
        f"| {label} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
        for label, s in test["per_class"].items()
    )
    return f"""---
language: en
library_name: transformers
base_model: sentence-transformers/all-MiniLM-L6-v2
pipeline_tag: text-classification
---

# Partnership classifier {version}

Predicts the partnership model (A City-Led, B City-Private Collaborative, C Public-Private
Investment, D Public-Private SPC, E Private-Led) of a smart-city project document, plus two
aspects (test-bed yes/no, international collaboration none/some/strong).

## Data
Our own written corpus (`data/corpus`, see `data/GUIDELINES.md`): {metrics["data"]["train"]} training,
{metrics["data"]["validation"]} validation and {metrics["data"]["test"]} test documents. Model
selection on validation macro-F1 only; the test split was read once, for the figures below.

## Training
MiniLM-L6 fine-tuned for {config.epochs} epochs (best epoch {metrics["training"]["best_epoch"]}), max length
{config.max_length} tokens, {config.freeze_layers} lower layers frozen, learning rate {config.learning_rate},
input format `{config.input_format}`, seed {config.seed}; {metrics["training"]["seconds"]:.0f} s on the
training machine. Blended with a TF-IDF + logistic regression model (stored as `lexical.json` and
`lexical.safetensors`) at weight {metrics["calibration"]["lexical_weight"]:.1f}, chosen on validation
macro-F1. Temperature {metrics["calibration"]["temperature"]:.3f}; `needs_review` below
confidence {metrics["calibration"]["review_threshold"]:.3f}.

## Test split
| model | macro-F1 | accuracy |
|---|---|---|
{rows}

| label | precision | recall | F1 | support |
|---|---|---|---|---|
{per_class}

ECE {test["ece_uncalibrated"]:.3f} before and {test["ece"]:.3f} after temperature scaling.
Test-bed accuracy {test.get("testbed_accuracy", float("nan")):.3f}, international accuracy
{test.get("international_accuracy", float("nan")):.3f}.

```
{confusion_text(test["confusion"])}
```

Evidence (sentence occlusion) on {ex["documents"]} test documents: removing the top evidence
sentence lowers the predicted model's probability by {ex.get("mean_drop_top_evidence", nan):.3f} on average,
removing a random other sentence by {ex.get("mean_drop_random_sentence", nan):.3f} (the top drop is at least
as large in {ex.get("share_top_drop_greater_or_equal", nan):.0%} of them).
{_int8_section(metrics.get("int8"))}
{ablation_markdown(ablation) if ablation else ""}
## Known limits
- Trained on documents written for this project; real documents are longer and vaguer, and the
  figures above overstate accuracy on them.
- Only the first {config.max_length} tokens are read; facts buried later in a long document are missed.
- English only.
"""


def train_version(
    dataset: DatasetDict,
    models_dir: Path,
    config: FinetuneConfig,
    *,
    extractor: Extractor | None = None,
    progress: Progress | None = None,
    promote: bool = True,
    baselines: bool = True,
    ablation: dict | None = None,
    check_int8: bool = True,
) -> TrainResult:
    """Train a new version into ``models_dir``, evaluate it, and promote it if it is not worse.

    ``ablation``: the content of an ``ablation.json`` (:mod:`training.ablation`) to store beside the
    metrics and show in the card. ``check_int8``: measure int8 against fp32 on the test split (the
    row says whether int8 may serve this version)."""
    registry = ModelRegistry(models_dir)
    version = registry.new_version()
    splits = {name: columns(dataset[name], config.input_format, extractor) for name in ("train", "validation", "test")}
    run = finetune(splits["train"], splits["validation"], config, version, progress)
    model = run.model
    test = splits["test"]
    logits, _ = model.encode(test["text"])
    labels = np.asarray(test["label"])
    scores = model.blend(logits, test["text"])
    metrics_test = classification_metrics(labels, softmax(scores, model.settings.temperature))
    metrics_test["ece_uncalibrated"] = expected_calibration_error(softmax(scores), labels)
    metrics_test.update(_aspect_scores(model, test["text"], test["testbed"], test["international"]))
    alone = classification_metrics(labels, softmax(logits))
    weight = model.settings.lexical_weight
    comparison = {
        f"this version (MiniLM + lexical, w={weight:.1f})": {k: metrics_test[k] for k in ("macro_f1", "accuracy")},
        "fine-tuned MiniLM alone": {k: alone[k] for k in ("macro_f1", "accuracy")},
    }
    if baselines:
        tfidf = tfidf_logreg(splits["train"]["raw_text"], splits["train"]["label"], config.seed)
        tfidf_metrics = classification_metrics(labels, tfidf.predict_proba(test["raw_text"]))
        zero = classification_metrics(labels, zero_shot_similarity(test["raw_text"]))
        comparison["TF-IDF + logistic regression"] = {k: tfidf_metrics[k] for k in ("macro_f1", "accuracy")}
        comparison["zero-shot MiniLM similarity"] = {k: zero[k] for k in ("macro_f1", "accuracy")}
    val_probs = softmax(run.validation_scores, model.settings.temperature)
    faithfulness = evidence_faithfulness(model, test["text"][:EXPLANATION_SAMPLE], config.seed)
    metrics = {
        "version": version,
        "data": {name: len(splits[name]["text"]) for name in splits},
        "training": model.settings.training,
        "calibration": {
            "temperature": model.settings.temperature,
            "lexical_weight": model.settings.lexical_weight,
            "review_threshold": model.settings.review_threshold,
            "validation_ece_before": expected_calibration_error(
                softmax(run.validation_scores), np.asarray(splits["validation"]["label"])
            ),
            "validation_ece_after": expected_calibration_error(val_probs, np.asarray(splits["validation"]["label"])),
        },
        "test": metrics_test,
        "explanation": faithfulness,
        "comparison": comparison,
        "labels": list(LABELS),
        "international_levels": list(INTERNATIONAL_LEVELS),
    }
    folder = models_dir / version
    staging = models_dir / f".{version}.partial"
    model.save(staging)
    if check_int8:  # loads the saved folder, so the int8 ONNX file ships with the version
        probabilities = softmax(scores, model.settings.temperature)
        metrics["int8"] = int8_check(staging, test["text"], labels, fp32_probabilities=probabilities)
    if ablation:
        (staging / "ablation.json").write_text(json.dumps(ablation, indent=2) + "\n", encoding="utf-8")
    (staging / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (staging / "README.md").write_text(_model_card(version, metrics, config, ablation), encoding="utf-8")
    confusion_png(metrics_test["confusion"], staging / "confusion.png", f"{version} test split")
    staging.rename(folder)  # a version appears whole or not at all
    model.folder = folder

    serving = registry.serving()
    promoted, reason = False, "not asked to promote"
    if promote:
        if serving is None:
            promoted, reason = True, "first model"
        else:
            current = json.loads((registry.path(serving) / "metrics.json").read_text(encoding="utf-8"))["test"][
                "macro_f1"
            ]
            new = metrics_test["macro_f1"]
            promoted = new >= current - PROMOTION_TOLERANCE
            reason = f"test macro-F1 {new:.4f} vs serving {serving} {current:.4f} (tolerance {PROMOTION_TOLERANCE})"
        if promoted:
            registry.promote(version, reason)
    return TrainResult(version, folder, metrics, promoted, reason)
