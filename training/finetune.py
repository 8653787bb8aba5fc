"""Fine-tune MiniLM-L6 on the corpus: label head, then aspect heads, calibration and review threshold.

CPU-friendly on purpose: dynamic padding with length bucketing, the embeddings
and lower encoder layers frozen (measured: 3 frozen layers train about 3x
faster at 256 tokens), and model selection on validation macro-F1 only.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

from classifier.base_model import minilm_folder, quiet_transformers
from classifier.calibration import choose_review_threshold, fit_temperature, softmax
from classifier.lexical import LexicalModel
from classifier.model import ASPECTS, ModelSettings, PartnershipModel
from classifier.taxonomy import INTERNATIONAL_LEVELS, LABELS

__all__ = ["FinetuneConfig", "TrainingRun", "finetune", "set_seed"]

Progress = Callable[[str, int, int], None]


@dataclass
class FinetuneConfig:
    """Hyper-parameters of one fine-tuning run (recorded in the model's partnership.json)."""

    max_length: int = 256
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 8e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    freeze_layers: int = 3
    seed: int = 13
    review_accuracy: float = 0.95
    input_format: str = "text"
    lexical: bool = True
    base_model: str | None = None


@dataclass
class TrainingRun:
    """What happened during training: per-epoch validation scores and time."""

    model: PartnershipModel
    epochs: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    validation_logits: np.ndarray | None = None
    validation_scores: np.ndarray | None = None


def set_seed(seed: int) -> None:
    """Seed every generator training touches, for repeatable runs."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length: sort within pools of 8 batches, then shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 8
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _freeze(model, layers: int) -> None:
    if layers <= 0:
        return
    for parameter in model.bert.embeddings.parameters():
        parameter.requires_grad = False
    for layer in model.bert.encoder.layer[:layers]:
        for parameter in layer.parameters():
            parameter.requires_grad = False


def _fit_head(features: np.ndarray, targets: np.ndarray, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A logistic-regression head as (weight, bias) with one row per class (binary heads get a zero row)."""
    present = np.unique(targets)
    weight = np.zeros((classes, features.shape[1]), dtype=np.float32)
    bias = np.zeros(classes, dtype=np.float32)
    if len(present) < 2:
        bias[present[0]] = 10.0
        return torch.from_numpy(weight), torch.from_numpy(bias)
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(features, targets)
    if len(lr.classes_) == 2:
        weight[lr.classes_[1]] = lr.coef_[0]
        bias[lr.classes_[1]] = lr.intercept_[0]
    else:
        weight[lr.classes_] = lr.coef_
        bias[lr.classes_] = lr.intercept_
    return torch.from_numpy(weight), torch.from_numpy(bias)


def finetune(
    train: dict[str, list],
    validation: dict[str, list],
    config: FinetuneConfig,
    version: str,
    progress: Progress | None = None,
) -> TrainingRun:
    """Train on ``train`` and select on ``validation``; each is a dict of lists with the keys
    ``text`` (model inputs), ``label`` (0-4), ``testbed`` (bool) and ``international`` (0-2)."""
    set_seed(config.seed)
    quiet_transformers()
    started = time.perf_counter()
    base = Path(config.base_model) if config.base_model else minilm_folder()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id={x: i for i, x in enumerate(LABELS)}
    )
    _freeze(model, config.freeze_layers)
    settings = ModelSettings(version=version, max_length=config.max_length, input_format=config.input_format)
    wrapper = PartnershipModel(model, tokenizer, settings)

    encoded = tokenizer(train["text"], truncation=True, max_length=config.max_length)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    labels = torch.tensor(train["label"])
    rng = random.Random(config.seed)
    steps_per_epoch = -(-len(lengths) // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)

    run = TrainingRun(model=wrapper)
    best_f1, best_state = -1.0, None
    step = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        losses = []
        for batch_ids in _batches(lengths, config.batch_size, rng):
            features = [
                {"input_ids": encoded["input_ids"][i], "attention_mask": encoded["attention_mask"][i]}
                for i in batch_ids
            ]
            batch = tokenizer.pad(features, return_tensors="pt")
            loss = model(**batch, labels=labels[batch_ids]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            step += 1
            if progress:
                progress(f"epoch {epoch}/{config.epochs} loss {np.mean(losses[-20:]):.3f}", step, total_steps)
        model.eval()
        logits, _ = wrapper.encode(validation["text"])
        f1 = float(f1_score(validation["label"], logits.argmax(1), average="macro"))
        run.epochs.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "validation_macro_f1": f1})
        if f1 > best_f1:
            best_f1, best_state, run.best_epoch = f1, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    model.eval()

    val_logits, _ = wrapper.encode(validation["text"])
    val_labels = np.asarray(validation["label"])
    blend_scores = []
    if config.lexical:
        wrapper.lexical = LexicalModel.fit(train["text"], train["label"], config.seed)
        for weight in np.linspace(0.0, 1.0, 11):
            z = wrapper.blend(val_logits, validation["text"], float(weight))
            f1 = float(f1_score(val_labels, z.argmax(1), average="macro"))
            blend_scores.append({"lexical_weight": round(float(weight), 2), "validation_macro_f1": f1})
        best = max(blend_scores, key=lambda r: (r["validation_macro_f1"], -r["lexical_weight"]))
        settings.lexical_weight = best["lexical_weight"]
    val_scores = wrapper.blend(val_logits, validation["text"])
    settings.temperature = fit_temperature(val_scores, val_labels)
    settings.review_threshold = choose_review_threshold(
        softmax(val_scores, settings.temperature), val_labels, config.review_accuracy
    )
    _, train_pooled = wrapper.encode(train["text"])
    wrapper.aspect_heads = {
        "testbed": _fit_head(train_pooled, np.asarray(train["testbed"], dtype=int), len(ASPECTS["testbed"])),
        "international": _fit_head(train_pooled, np.asarray(train["international"]), len(INTERNATIONAL_LEVELS)),
    }
    run.seconds = time.perf_counter() - started
    run.validation_logits = val_logits
    run.validation_scores = val_scores
    settings.created = datetime.now(UTC).isoformat(timespec="seconds")
    settings.training = {
        "config": asdict(config),
        "train_documents": len(train["text"]),
        "validation_documents": len(validation["text"]),
        "epochs": run.epochs,
        "best_epoch": run.best_epoch,
        "lexical_blend": blend_scores,
        "seconds": round(run.seconds, 1),
    }
    return run
