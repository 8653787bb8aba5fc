"""The `partnership` command: one entry point for data, extraction, training, classification and the service."""

from __future__ import annotations

import typer

from api.commands import bulk, model, serve
from api.commands.data import data_app
from api.commands.extraction import register as register_extraction

app = typer.Typer(help="Classify smart-city project documents by partnership model.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(model.models_app, name="models")
app.command()(model.train)
app.command()(model.classify)
app.command()(model.evaluate)
register_extraction(app)
app.command()(bulk.bulk)
app.command()(serve.serve)
app.add_typer(serve.users_app, name="users")
app.add_typer(serve.db_app, name="db")

if __name__ == "__main__":
    app()
