"""``kokuho demo``: the synthetic prefecture generated, loaded, and served."""

from __future__ import annotations

import click

from kokuho.cli._commands import SingleValueOptions
from kokuho.cli._output import json_option
from kokuho.cli._params import PERSONS, PORT, SEED


@click.command(cls=SingleValueOptions)
@click.option(
    "--persons", type=PERSONS, default=20_000, show_default=True, help="Size of the prefecture."
)
@click.option(
    "--seed", type=SEED, default=1, show_default=True, help="Seed of the synthetic prefecture."
)
@click.option(
    "--serve/--no-serve", default=True, show_default=True, help="Serve the service when loaded."
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=PORT, default=8000, show_default=True)
@json_option
def demo(persons: int, seed: int, serve: bool, host: str, port: int, as_json: bool) -> None:
    """Generate the synthetic Kagawa prefecture, load it, and serve it.

    Starts from an empty database under $KOKUHO_HOME, writes the files to $KOKUHO_HOME/demo,
    loads insurers, every change file (in filing order), the resident register and the My
    Number submissions, then the premiums (incomes, 本算定, synthetic payments written from
    the 調定 and imported), registers the institutions, issues cards to the persons with a
    verified link and a credential for one clinic, reports what the register holds, prints a
    request that works, and serves.
    """
    # Loading needs every room (SQLAlchemy, Ibis, the web app): imported only when it runs.
    from kokuho.cli._demo_load import load_demo

    load_demo(persons, seed, host, port, as_json)
    if serve:
        import uvicorn

        click.echo(
            f"\nserving on http://{host}:{port}  (OpenAPI: http://{host}:{port}/docs)"
            "  — Ctrl-C to stop"
        )
        uvicorn.run(
            "kokuho.web:create_app", factory=True, host=host, port=port, log_level="warning"
        )
