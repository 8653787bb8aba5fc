"""`partnership train | evaluate | classify | models`: make, measure and use model versions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from api.jobs.bulk import write_csv_rows
from api.settings import get_settings

console = Console(stderr=True)
models_app = typer.Typer(help="Model versions: list, promote, roll back.", no_args_is_help=True)

FORMATS = ("jsonl", "csv", "table")


def _registry():
    from training.registry import ModelRegistry

    return ModelRegistry(get_settings().models_dir)


def serving_folder(version: str | None) -> Path:
    """The folder of ``version``, or of the serving version; exits with advice when there is none."""
    registry = _registry()
    try:
        folder = registry.path(version) if version else registry.serving_path()
    except Exception as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if folder is None:
        console.print("[red]no model is serving yet: run `partnership train` first[/red]")
        raise typer.Exit(2)
    return folder


def train(
    epochs: Annotated[int, typer.Option(help="Training epochs (best epoch on validation is kept).")] = 3,
    max_length: Annotated[int, typer.Option(help="Tokens read per document.")] = 256,
    freeze_layers: Annotated[int, typer.Option(help="Lower encoder layers kept frozen (speed).")] = 3,
    learning_rate: Annotated[float, typer.Option()] = 8e-5,
    input_format: Annotated[str, typer.Option(help="text, or facts+text (extracted roles first).")] = "text",
    seed: Annotated[int, typer.Option()] = 13,
    promote: Annotated[bool, typer.Option(help="Promote if not worse than the serving version.")] = True,
) -> None:
    """Fine-tune MiniLM on the corpus's train split, select on validation, evaluate on test, save a version."""
    from training.data import load_dataset_dict
    from training.finetune import FinetuneConfig
    from training.train import train_version

    settings = get_settings()
    dataset = load_dataset_dict(settings.corpus_dir, settings.splits_file)
    config = FinetuneConfig(
        epochs=epochs,
        max_length=max_length,
        freeze_layers=freeze_layers,
        learning_rate=learning_rate,
        input_format=input_format,
        seed=seed,
    )
    extractor = None
    if input_format != "text":
        from classifier.extraction import extract as extractor
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}")]
    with Progress(*columns, TimeElapsedColumn(), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("training", total=None)

        def progress(message: str, done: int, total: int) -> None:
            bar.update(task, description=message, completed=done, total=total)

        result = train_version(
            dataset, settings.models_dir, config, extractor=extractor, progress=progress, promote=promote
        )
    table = Table(title=f"{result.version}: test split", title_justify="left")
    table.add_column("model")
    table.add_column("macro-F1", justify="right")
    table.add_column("accuracy", justify="right")
    for name, m in result.metrics["comparison"].items():
        table.add_row(name, f"{m['macro_f1']:.3f}", f"{m['accuracy']:.3f}")
    console.print(table)
    console.print(f"saved {result.path}; promoted: {result.promoted} ({result.reason})")


def _write(predictions: list[dict], output: Path | None, fmt: str) -> None:
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        if fmt == "jsonl":
            for p in predictions:
                out.write(json.dumps(p, ensure_ascii=False) + "\n")
        elif fmt == "csv":
            write_csv_rows(out, predictions)
        else:
            table = Table(show_lines=False)
            for column in ("id", "label", "confidence", "review", "stakeholders"):
                table.add_column(column)
            for p in predictions:
                who = ", ".join(f"{s.get('name', s.get('text'))}:{s.get('role')}" for s in p["stakeholders"][:4])
                table.add_row(
                    p["id"],
                    f"{p['label']} {p['label_name']}",
                    f"{p['confidence']:.2f}",
                    "yes" if p["needs_review"] else "",
                    who,
                )
            Console(file=out).print(table)
    finally:
        if output:
            out.close()


def classify(
    inputs: Annotated[list[str], typer.Argument(help="Files, folders, .jsonl/.csv with id,text, or - for stdin.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv or table.")] = "jsonl",
    model: Annotated[str | None, typer.Option(help="Model version (default: the serving one).")] = None,
    int8: Annotated[bool, typer.Option(help="int8 dynamic quantization.")] = False,
    backend: Annotated[
        str, typer.Option(help="torch, or onnx (ONNX Runtime: exported once into the model folder, faster).")
    ] = "torch",
    overlap: Annotated[
        bool, typer.Option(help="Run extraction in a second thread while the model classifies (2 cores).")
    ] = False,
    explain: Annotated[bool, typer.Option(help="Evidence sentences by occlusion.")] = True,
    extract: Annotated[bool, typer.Option(help="Extract stakeholders and roles (spaCy).")] = True,
    batch_size: Annotated[int, typer.Option(help="Documents per batch.")] = 64,
) -> None:
    """Classify documents; unreadable inputs are reported on stderr and the others still classified."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    from api.inputs import InputError, iter_documents
    from classifier.pipeline import Pipeline

    pipeline = Pipeline.load(
        serving_folder(model),
        int8=int8,
        explain=explain,
        extract=extract,
        backend=backend,
        threads=1 if overlap else None,
        overlap=overlap and extract,
    )
    predictions, errors, batch = [], 0, []
    for item in iter_documents(inputs):
        if isinstance(item, InputError):
            errors += 1
            console.print(f"[red]skipped {item.source}[/red]: {item.reason}", highlight=False)
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            predictions += [p.model_dump() for p in pipeline.predict(batch)]
            batch = []
    predictions += [p.model_dump() for p in pipeline.predict(batch)]
    _write(predictions, output, fmt)
    console.print(f"{len(predictions)} classified, {errors} skipped")
    if not predictions and errors:
        raise typer.Exit(1)


def evaluate(
    data: Annotated[Path | None, typer.Option(help="A labeled .jsonl file (default: the corpus's test split).")] = None,
    model: Annotated[str | None, typer.Option(help="Model version (default: the serving one).")] = None,
    int8: Annotated[bool, typer.Option(help="Evaluate the int8-quantized model.")] = False,
    llm: Annotated[
        str | None, typer.Option(help="Also measure an LLM backend (local or openai) beside the model.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="With --llm: a fixed sample of N documents (the LLM is slow).")
    ] = None,
) -> None:
    """Accuracy, macro-F1, per-class scores, confusion matrix and ECE, beside the baselines; --llm: the LLM's."""
    settings = get_settings()
    if llm is None:
        if limit is not None:
            raise typer.BadParameter("--limit applies to --llm only")
        from training.evaluate import evaluate_version

        folder = serving_folder(model)
        print(evaluate_version(folder, settings.corpus_dir, settings.splits_file, data=data, int8=int8))
        return
    from classifier.llm import Adviser, BackendError
    from training.evaluate_llm import evaluate_llm

    try:
        adviser = Adviser.from_settings(settings, backend=llm)
    except (BackendError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}")]
    with Progress(*columns, TimeElapsedColumn(), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task(f"LLM {llm}", total=None)
        result = evaluate_llm(
            adviser,
            settings.corpus_dir,
            settings.splits_file,
            folder=serving_folder(model),
            data=data,
            limit=limit,
            int8=int8,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    print(result["report"])


@models_app.command("list")
def models_list() -> None:
    """Saved versions with their test macro-F1; the serving one is marked."""
    table = Table()
    for column in ("version", "serving", "test macro-F1", "TF-IDF macro-F1"):
        table.add_column(column)
    for info in _registry().versions():
        test = info.metrics.get("test", {})
        tfidf = info.metrics.get("comparison", {}).get("TF-IDF + logistic regression", {})
        table.add_row(
            info.version,
            "*" if info.serving else "",
            f"{test.get('macro_f1', float('nan')):.3f}",
            f"{tfidf.get('macro_f1', float('nan')):.3f}",
        )
    Console().print(table)


@models_app.command("promote")
def models_promote(version: str) -> None:
    """Serve ``version`` from now on."""
    _registry().promote(version, reason="promoted by hand")
    console.print(f"{version} is serving")


@models_app.command("rollback")
def models_rollback() -> None:
    """Serve the previously promoted version again."""
    console.print(f"{_registry().rollback()} is serving")


@models_app.command("serving")
def models_serving() -> None:
    """Print the serving version; exit 1 when no model has been promoted yet."""
    version = _registry().serving()
    if not version:
        console.print("no model is serving yet")
        raise typer.Exit(1)
    print(version)
