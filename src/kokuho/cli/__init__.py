"""The one ``kokuho`` command. Every sub-command is a thin call into a context."""

from __future__ import annotations

import click

import kokuho.cli._claims_reports  # noqa: F401  (registers the claims report commands)
from kokuho import __version__
from kokuho.cli._checkups import checkups
from kokuho.cli._claims import claims
from kokuho.cli._dashboard import dashboard
from kokuho.cli._demo import demo
from kokuho.cli._ids import ids
from kokuho.cli._incentives import grants, incentives
from kokuho.cli._lake import lake
from kokuho.cli._mynumber import mynumber, residents
from kokuho.cli._registry import registry
from kokuho.cli._service import (
    audit,
    cards,
    credentials,
    institutions,
    oqs_agent,
    serve,
    terminals,
)
from kokuho.cli._synth import synth


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kokuho")
def main() -> None:
    """kokuho: the shared eligibility register and what is built on it (国民健康保険).

    Settings come from the environment: KOKUHO_HOME (default ./var), KOKUHO_DATABASE_URL
    (default SQLite under KOKUHO_HOME), KOKUHO_MYNUMBER_KEY_FILE.
    """


for command in (
    ids, registry, residents, mynumber, synth, demo, serve, oqs_agent, institutions,
    credentials, terminals, cards, audit, checkups, claims, incentives, grants, dashboard, lake,
):  # fmt: skip
    main.add_command(command)
