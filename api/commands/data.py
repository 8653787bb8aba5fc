"""`partnership data ...`: statistics, checks and splits of the labeled corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.settings import get_settings

data_app = typer.Typer(help="The labeled corpus: statistics, checks, splits.", no_args_is_help=True)
console = Console()
CorpusOption = Annotated[Path | None, typer.Option(help="Folder of corpus *.jsonl files (default: data/corpus).")]
SplitsOption = Annotated[Path | None, typer.Option(help="The frozen splits file (default: data/splits.json).")]


def _load(corpus: Path | None, splits: Path | None):
    from training.corpus import load_corpus
    from training.splits import load_splits

    settings = get_settings()
    records = load_corpus(corpus or settings.corpus_dir)
    return records, load_splits(splits or settings.splits_file)


@data_app.command("stats")
def data_stats(
    corpus: CorpusOption = None,
    splits: SplitsOption = None,
) -> None:
    """Counts per label, split, genre, sector, country, aspect and annotation."""
    from training.data import corpus_stats

    records, assignment = _load(corpus, splits)
    stats = corpus_stats(records, assignment)
    console.print(
        f"[bold]{len(records)} documents[/bold], {len(stats['country'])} countries, "
        f"{sum(1 for r in records if r.stakeholders)} annotated with stakeholder spans"
    )
    for name, counts in stats.items():
        table = Table(title=name, show_header=False, title_justify="left")
        items = counts.most_common() if name == "country" else sorted(counts.items())
        for key, value in items:
            table.add_row(str(key), str(value))
        console.print(table)


@data_app.command("check")
def data_check(
    corpus: CorpusOption = None,
    splits: SplitsOption = None,
    minima: Annotated[bool, typer.Option(help="Also require the corpus-size targets.")] = True,
) -> None:
    """Fail (exit 1) on schema errors, repeated sentences, bad spans, label words, duplicates, split problems."""
    from training.checks import check_corpus

    records, assignment = _load(corpus, splits)
    report = check_corpus(records, assignment, minima=minima)
    for name, value in report.figures.items():
        console.print(f"{name}: {value:.3f}")
    for problem in report.problems:
        ids = f" [{', '.join(problem.ids[:6])}{' …' if len(problem.ids) > 6 else ''}]" if problem.ids else ""
        console.print(f"[red]{problem.check}[/red]: {problem.message}{ids}", markup=True, highlight=False)
    if not report.ok:
        console.print(f"[red]{len(report.problems)} problems in {len(records)} documents[/red]")
        raise typer.Exit(1)
    console.print(f"[green]corpus ok[/green]: {len(records)} documents pass every check")


@data_app.command("split")
def data_split(
    corpus: CorpusOption = None,
    splits: SplitsOption = None,
) -> None:
    """Assign new documents to train/validation/test (stratified by label); existing ones never move."""
    from training.splits import assign_splits, save_splits

    records, existing = _load(corpus, splits)
    known = {r.id for r in records}
    assignment = assign_splits(records, {k: v for k, v in existing.items() if k in known})
    save_splits(assignment, splits or get_settings().splits_file)
    new = len(set(assignment) - set(existing))
    console.print(f"{new} documents assigned, {len(assignment)} in all")
