"""`partnership bulk INPUT -o OUTDIR`: classify a city submission, resumably, with per-city reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from api.commands.model import serving_folder

console = Console(stderr=True)


def bulk(
    inputs: Annotated[
        list[str], typer.Argument(help="Folders (INPUT/<city>/...), ZIPs, .csv/.jsonl (id,text|path,city,country).")
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Output folder; run again with the same one to resume.")
    ],
    engine: Annotated[str, typer.Option(help="local (a worker per core), single (one process) or ray.")] = "local",
    workers: Annotated[int, typer.Option(help="Worker processes (local) or actors (ray).")] = 2,
    batch_size: Annotated[int, typer.Option(help="Documents per batch.")] = 32,
    model: Annotated[str | None, typer.Option(help="Model version (default: the serving one).")] = None,
    int8: Annotated[bool, typer.Option(help="int8 dynamic quantization.")] = True,
    backend: Annotated[
        str, typer.Option(help="torch, or onnx (ONNX Runtime; exported once into the model folder).")
    ] = "torch",
    extract: Annotated[bool, typer.Option(help="Extract stakeholders and roles.")] = True,
    explain: Annotated[
        str, typer.Option(help="Evidence sentences for: all, review (uncertain ones) or none.")
    ] = "review",
    address: Annotated[str | None, typer.Option(help="Ray cluster address to join (ray engine).")] = None,
) -> None:
    """Classify every document; unreadable inputs go to errors.jsonl; a killed job resumes without duplicates."""
    from api.inputs import count_documents
    from api.jobs.bulk import BulkOptions, run_bulk

    options = BulkOptions(
        model=str(serving_folder(model)),
        engine=engine,
        workers=workers,
        batch_size=batch_size,
        int8=int8,
        backend=backend,
        extract=extract,
        explain=explain,
        ray_address=address,
    )
    total = count_documents(inputs)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.1f} docs/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("classifying", total=total, rate=0.0)
            state = {"first": None}

            def progress(done: int, _total: int | None) -> None:
                elapsed = bar.tasks[task].elapsed or 1e-9
                state["first"] = state["first"] if state["first"] is not None else done
                bar.update(task, completed=done, rate=(done - state["first"]) / elapsed)

            result = run_bulk(inputs, output, options, progress, total)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"{result.classified} classified now, {result.skipped_done} done before, {result.errors} unreadable "
        f"in {result.seconds:.1f} s → {output}/report.html"
    )
