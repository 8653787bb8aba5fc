"""`partnership serve | users | db`: run the service, manage API accounts, migrate the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.settings import Settings, get_settings

__all__ = ["db_app", "load_demo", "serve", "users_app"]

console = Console(stderr=True)
users_app = typer.Typer(help="API accounts: create one (prints its token once), list them.", no_args_is_help=True)
db_app = typer.Typer(help="The service's database (SQLite file by default, or PARTNERSHIP_DATABASE_URL).")
DEMO_SUBMITTER = "demo"
DEMO_ACCOUNTS = (("demo-admin", "admin"), ("demo-reviewer", "reviewer"), ("demo-submitter", "submitter"))
DEMO_META = {  # city and country of each sample, by file stem
    "harbour-heat-network": ("Kestrel Bay", "Norway"),
    "bus-priority-signals": ("Marlow Heights", "Canada"),
    "mobility-advisory-forum": ("Santa Irene", "Chile"),
    "riverside-district-company": ("Oduya", "Kenya"),
    "rooftop-solar-cooperative": ("Valdemoro Alto", "Spain"),
}


def _database(settings: Settings):
    from api.store.db import Database

    db = Database(settings.database)
    db.upgrade()
    return db


@db_app.callback()
def db_group() -> None:
    """The service's database (SQLite file by default, or PARTNERSHIP_DATABASE_URL)."""


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending Alembic migration (the server also does this at startup)."""
    settings = get_settings()
    db = _database(settings)
    console.print(f"database at the latest schema ({db.backend})")
    db.dispose()


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="A unique account name.")],
    role: Annotated[str, typer.Option(help="submitter, reviewer or admin.")] = "submitter",
) -> None:
    """Create an account and print its API token on stdout, once (only its hash is stored)."""
    from api.store import queries

    db = _database(get_settings())
    try:
        with db.session() as session:
            _, token = queries.create_user(session, name, role)
            queries.record_event(session, None, "user_created", {"name": name, "role": role, "via": "cli"})
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    print(token)
    console.print(f"created {role} {name!r}; the token above is shown only now")


@users_app.command("list")
def users_list() -> None:
    """Accounts and their roles (tokens are never shown again)."""
    from api.store import queries

    db = _database(get_settings())
    with db.session() as session:
        for user in queries.list_users(session):
            print(f"{user.id}\t{user.name}\t{user.role}\t{'active' if user.active else 'disabled'}")
    db.dispose()


def load_demo(settings: Settings) -> dict[str, str]:
    """Demo accounts with fresh tokens, and the sample submissions in data/samples/ classified and stored."""
    from api.deps import AppState
    from api.jobs.intake import submit
    from api.metrics import Metrics
    from api.serving import Batcher, ModelHolder
    from api.store import queries
    from classifier.documents import DocumentError, read_path

    db = _database(settings)
    tokens: dict[str, str] = {}
    with db.session() as session:
        for name, role in DEMO_ACCOUNTS:
            tokens[name] = queries.rotate_token(session, name, role)
        submitter = queries.user_named(session, "demo-submitter")
    holder = ModelHolder(
        settings.models_dir, extract=settings.extract, int8=settings.int8, explain=True, backend=settings.backend
    )
    if holder.load_serving() is None:
        console.print("[yellow]no model is serving: samples are stored unclassified (run `partnership train`)[/]")
    state = AppState(settings=settings, db=db, holder=holder, metrics=Metrics(), batcher=Batcher(holder, 8))
    added = 0
    try:
        for path in sorted(Path(settings.samples_dir).glob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            with db.session() as session:
                if queries.document_named(session, path.name, DEMO_SUBMITTER) is not None:
                    continue
            try:
                source = read_path(path, doc_id=path.name, max_bytes=settings.max_upload_bytes)
            except DocumentError as exc:
                console.print(f"[red]skipped {path.name}[/red]: {exc}")
                continue
            city, country = DEMO_META.get(path.stem, (None, None))
            submit(state, submitter, source, city=city, country=country, submitter=DEMO_SUBMITTER)
            added += 1
    finally:
        state.batcher.close()
        db.dispose()
    console.print(f"demo: {added} sample submissions added from {settings.samples_dir}")
    return tokens


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: settings, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings, 8000).")] = None,
    demo: Annotated[bool, typer.Option(help="Load the sample submissions and print demo tokens first.")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP service: API (docs at /docs), review page at /ui, metrics at /metrics."""
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    if demo:
        tokens = load_demo(settings)
        console.print("[bold]demo accounts[/bold] (log in at the review page with a token):")
        for name, token in tokens.items():
            print(f"{name}: {token}")
    else:
        _database(settings).dispose()
    console.print(f"serving on http://{host}:{port}/ui  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
