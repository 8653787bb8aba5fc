"""`partnership extract FILE...` and `partnership evaluate-extraction`: who is behind a project, and how well."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.settings import get_settings

__all__ = ["evaluate_extraction", "extract", "register"]

console = Console()
errors = Console(stderr=True)
FORMATS = ("table", "json")


def _read(item: str):
    """One input as a SourceDocument; ``-`` reads stdin. Raises DocumentError with a readable message."""
    from classifier.documents import DocumentError, SourceDocument, clean_text, read_path

    if item == "-":
        text = clean_text(sys.stdin.read())
        if not text:
            raise DocumentError("empty input on stdin")
        return SourceDocument("stdin", text, "stdin", "text")
    return read_path(Path(item))


def extract(
    files: Annotated[list[str], typer.Argument(help="txt, md, html, pdf or docx files, or - for stdin.")],
    format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Stakeholders of each document: name, type, role, confidence and the evidence sentence."""
    if format not in FORMATS:
        errors.print(f"[red]--format must be one of {', '.join(FORMATS)}[/red]")
        raise typer.Exit(2)
    from classifier.documents import DocumentError
    from classifier.extraction import extract as run_extract

    docs, failed = [], 0
    for item in files:
        try:
            docs.append(_read(item))
        except DocumentError as exc:
            failed += 1
            errors.print(f"[red]{item}[/red]: {exc}", highlight=False)
    found = run_extract([d.text for d in docs]) if docs else []
    if format == "json":
        out = [
            {"id": d.id, "source": d.source, "stakeholders": [s.model_dump() for s in stakeholders]}
            for d, stakeholders in zip(docs, found, strict=True)
        ]
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    else:
        for d, stakeholders in zip(docs, found, strict=True):
            table = Table(title=f"{d.source}: {len(stakeholders)} stakeholders", title_justify="left")
            for column in ("name", "type", "role", "conf.", "aliases", "evidence"):
                table.add_column(column, overflow="fold")
            for s in stakeholders:
                evidence = s.evidence if len(s.evidence) <= 160 else s.evidence[:157] + "..."
                table.add_row(s.name, s.type, s.role, f"{s.role_confidence:.2f}", ", ".join(s.aliases[:3]), evidence)
            console.print(table)
    if failed:
        raise typer.Exit(1)


def evaluate_extraction(
    split: Annotated[str, typer.Option(help="train, validation or test (the test split only to report).")] = "test",
    examples: Annotated[int, typer.Option(help="Also list this many missed and spurious stakeholders.")] = 0,
) -> None:
    """Precision, recall, type and role accuracy of the extractor on one split's gold stakeholder spans."""
    from training.evaluate_extraction import format_report, run_evaluation
    from training.splits import SPLITS

    if split not in SPLITS:
        errors.print(f"[red]--split must be one of {', '.join(SPLITS)}[/red]")
        raise typer.Exit(2)
    settings = get_settings()
    report = run_evaluation(split, corpus_dir=settings.corpus_dir, splits_file=settings.splits_file)
    console.print(format_report(report, examples=examples), highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``extract`` and ``evaluate-extraction`` to the ``partnership`` command (one line in api/cli.py)."""
    app.command("extract")(extract)
    app.command("evaluate-extraction")(evaluate_extraction)
