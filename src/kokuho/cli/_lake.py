"""``kokuho lake vacuum``: what killed or failed writers left in the lakes, removed."""

from __future__ import annotations

import click

from kokuho.cli._commands import SingleValueGroup
from kokuho.cli._output import emit_json, json_option
from kokuho.config import Settings


@click.group(cls=SingleValueGroup)
def lake() -> None:
    """The Parquet lakes of checkups, claims and 介護 ($KOKUHO_HOME/lake)."""


@lake.command("vacuum")
@json_option
def vacuum(as_json: bool) -> None:
    """Remove what a killed or failed ingest left in the lakes (checkups, claims, care): data
    files their manifest does not name and hidden temporary files (.<name>.<8 characters>.tmp).

    Each lake is swept under its write lock, so never under a running ingest (the command
    waits for it). Committed data is never touched. `kokuho claims ingest` and `kokuho care
    ingest` sweep their lake the same way before they write; `kokuho checkups ingest` its
    lake's temporary files.
    """
    from kokuho.care import CareLake
    from kokuho.checkups import Lake
    from kokuho.claims import ClaimsLake

    settings = Settings.from_env()
    claims = ClaimsLake.from_settings(settings)
    removed = {
        "checkups": Lake.from_settings(settings).vacuum(),
        "claims": claims.vacuum(),
        "care": CareLake.from_settings(settings).vacuum(),
    }
    root = claims.root
    found = {
        name: sorted(path.relative_to(root).as_posix() for path in paths)
        for name, paths in removed.items()
    }
    if as_json:
        emit_json({"lake": str(root), "removed": found})
        return
    for name, paths in found.items():
        for path in paths:
            click.echo(f"removed {name}: {path}")
    total = sum(len(paths) for paths in found.values())
    click.echo(f"{total} file(s) removed from {root}")
