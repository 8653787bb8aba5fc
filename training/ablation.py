"""Input ablation: does a prefix of extracted stakeholder facts ("facts+text") help over the text alone?

Both arms are fine-tuned with the same seed and configuration; the winner is
chosen on validation macro-F1 only (the blended score the service uses, then
MiniLM alone, then the simpler "text" arm on a tie). Test figures are written
beside them for the record, never used to choose.

    .venv/bin/python -m training.ablation [--epochs 2] [--max-length 128] [-o models/ablation-<time>]

writes ``ablation.json`` (rows and the winner), ``ABLATION.md`` (the model-card
section) and each arm's model folder under the output folder.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from sklearn.metrics import f1_score

from classifier.calibration import softmax
from classifier.features import INPUT_FORMATS
from training.finetune import FinetuneConfig, Progress, finetune

__all__ = ["ablation_markdown", "choose_arm", "run_ablation"]

Extractor = Callable[[list[str]], list[list]]


def _macro_f1(labels: list[int] | np.ndarray, scores: np.ndarray) -> float:
    return float(f1_score(np.asarray(labels), np.asarray(scores).argmax(1), average="macro"))


def choose_arm(rows: list[dict]) -> str:
    """The winning input format on validation: blended macro-F1, then MiniLM alone, then "text" (simpler)."""
    return max(
        rows,
        key=lambda r: (
            round(r["validation"]["blended_macro_f1"], 6),
            round(r["validation"]["minilm_macro_f1"], 6),
            r["input_format"] == "text",
        ),
    )["input_format"]


def _existing_rows(out_dir: Path, config: FinetuneConfig) -> list[dict]:
    """Rows already in ``out_dir/ablation.json`` from a run with the same configuration (arms may run apart)."""
    path = out_dir / "ablation.json"
    if not path.exists():
        return []
    previous = json.loads(path.read_text(encoding="utf-8"))
    same = {k: v for k, v in previous["config"].items() if k != "input_format"} == {
        k: v for k, v in asdict(config).items() if k != "input_format"
    }
    return previous["rows"] if same else []


def run_ablation(
    dataset: DatasetDict,
    out_dir: Path,
    config: FinetuneConfig,
    extractor: Extractor,
    formats: tuple[str, ...] = INPUT_FORMATS,
    progress: Progress | None = None,
) -> dict:
    """Train one model per input format into ``out_dir/<format>``; write and return ``ablation.json``'s content.

    The JSON is rewritten after each arm and keeps rows of the same configuration already there, so an
    interrupted run keeps its finished arms and the arms may run as separate processes.
    """
    from training.train import columns

    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict = {"config": asdict(config), "rows": [], "winner": None, "rule": choose_arm.__doc__}
    for input_format in formats:
        started = time.perf_counter()
        arm_config = replace(config, input_format=input_format)
        splits = {
            name: columns(dataset[name], input_format, extractor if input_format != "text" else None)
            for name in ("train", "validation", "test")
        }
        run = finetune(splits["train"], splits["validation"], arm_config, f"ablation-{input_format}", progress)
        model = run.model
        test = splits["test"]
        logits, _ = model.encode(test["text"])
        blended = softmax(model.blend(logits, test["text"]), model.settings.temperature)
        row = {
            "input_format": input_format,
            "best_epoch": run.best_epoch,
            "lexical_weight": model.settings.lexical_weight,
            "validation": {
                "minilm_macro_f1": _macro_f1(splits["validation"]["label"], run.validation_logits),
                "blended_macro_f1": _macro_f1(splits["validation"]["label"], run.validation_scores),
            },
            "test": {
                "minilm_macro_f1": _macro_f1(test["label"], logits),
                "blended_macro_f1": _macro_f1(test["label"], blended),
            },
            "epochs": run.epochs,
            "seconds": round(time.perf_counter() - started, 1),
        }
        model.save(out_dir / input_format.replace("+", "_"))
        result["rows"] = [r for r in _existing_rows(out_dir, config) if r["input_format"] != input_format] + [row]
        result["rows"].sort(key=lambda r: INPUT_FORMATS.index(r["input_format"]))
        result["winner"] = choose_arm(result["rows"])
        (out_dir / "ablation.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out_dir / "ABLATION.md").write_text(ablation_markdown(result), encoding="utf-8")
    return result


def ablation_markdown(ablation: dict) -> str:
    """The model card's "Input ablation" section for an ``ablation.json`` content."""
    config = ablation["config"]
    rows = "\n".join(
        f"| `{r['input_format']}` | {r['validation']['minilm_macro_f1']:.3f}"
        f" | {r['validation']['blended_macro_f1']:.3f} | {r['test']['minilm_macro_f1']:.3f}"
        f" | {r['test']['blended_macro_f1']:.3f} | {r['best_epoch']}"
        f" | {r['lexical_weight']:.1f} | {r['seconds']:.0f} |"
        for r in ablation["rows"]
    )
    return f"""## Input ablation: facts+text vs text
Same seed ({config["seed"]}) and configuration for both arms: {config["epochs"]} epochs, {config["max_length"]}
tokens, {config["freeze_layers"]} frozen layers, learning rate {config["learning_rate"]}. Chosen on validation
only (blended macro-F1, then MiniLM alone, then the simpler `text`): **`{ablation["winner"]}`**.

| input | val MiniLM | val blended | test MiniLM | test blended | best epoch | lexical w | s |
|---|---|---|---|---|---|---|---|
{rows}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--freeze-layers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--formats", nargs="+", default=list(INPUT_FORMATS), choices=INPUT_FORMATS)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    from classifier.extraction import extract
    from training.data import load_dataset_dict

    out = args.output or Path("models") / time.strftime("ablation-%Y%m%d-%H%M%S")
    config = FinetuneConfig(
        epochs=args.epochs, max_length=args.max_length, freeze_layers=args.freeze_layers, seed=args.seed
    )

    def progress(message: str, done: int, total: int) -> None:
        if done % 20 == 0 or done == total:
            print(f"{time.strftime('%H:%M:%S')} {message} {done}/{total}", flush=True)

    result = run_ablation(load_dataset_dict(), out, config, extract, tuple(args.formats), progress)
    print(ablation_markdown(result))
    print(f"written {out / 'ablation.json'}")


if __name__ == "__main__":
    main()
