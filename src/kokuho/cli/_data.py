"""``kokuho data``: the data files shipped with kokuho (同梱データ) and the local copies that
replace them (docs/data.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from kokuho.cli._commands import SingleValueGroup
from kokuho.cli._output import emit_json, fail, json_option

_VALUE_WIDTH = 40
_SOURCE_WIDTH = 90


@click.group(cls=SingleValueGroup, name="data")
def data() -> None:
    """The data files shipped with kokuho and their local copies in $KOKUHO_HOME/data.

    A file of the same path under $KOKUHO_HOME/data (e.g. $KOKUHO_HOME/data/prescribing_rules.yaml)
    is read instead of the shipped one.
    """


@data.command(name="unconfirmed")
@json_option
def unconfirmed(as_json: bool) -> None:
    """Every value shipped with `confirmed: false` (未確認): file, key, value, source.

    Replace these with the figures of your official notice (通知・告示) by putting a copy of the
    file in $KOKUHO_HOME/data; the report reads the copy and names the files it replaced.
    """
    from kokuho.store import (
        DataFileError,
        data_files,
        override_folder,
        stray_overrides,
        unconfirmed_values,
    )

    try:
        values = unconfirmed_values()
    except DataFileError as error:
        fail(str(error))
    overridden = [(f.relative, str(f.override)) for f in data_files() if f.override is not None]
    strays = [str(p) for p in stray_overrides()]
    if as_json:
        emit_json(
            {
                "override_folder": str(override_folder()),
                "overridden": [{"file": rel, "override": path} for rel, path in overridden],
                "ignored_overrides": strays,
                "unconfirmed": [
                    {
                        "file": v.file,
                        "key": v.key,
                        "value": v.value,
                        "source": v.source,
                        "local_choice": v.local_choice,
                        "overridden": v.overridden,
                    }
                    for v in values
                ],
            }
        )
        return
    click.echo(f"local copies: {override_folder()}")
    for relative, path in overridden:
        click.echo(f"  {relative}  ← {path}")
    if not overridden:
        click.echo("  (none: every file is the shipped one)")
    for path in strays:
        click.echo(f"  ignored (no shipped file of that name): {path}")
    click.echo(f"\n{len(values)} unconfirmed values (confirmed: false):")
    for file in dict.fromkeys(v.file for v in values):
        rows = [v for v in values if v.file == file]
        mark = " (local copy)" if rows[0].overridden else ""
        click.echo(f"\n{file}{mark}")
        _table([(v.key, _shown(v.value, v.local_choice), _flat(v.source)) for v in rows])


@data.command(name="copy")
@click.argument("relative", metavar="FILE")
def copy(relative: str) -> None:
    """Copy shipped data FILE (a path under kokuho/data, e.g. prescribing_rules.yaml or
    incentives/fy2021.yaml) to $KOKUHO_HOME/data, where kokuho reads it instead.

    Edit the copy: put the official value, its source and `confirmed: true`. An existing copy
    is never overwritten.
    """
    import shutil

    from kokuho.store import data_files, override_folder

    shipped = {f.relative: f for f in data_files()}
    entry = shipped.get(relative.strip("/"))
    if entry is None:
        fail(f"{relative}: not a shipped data file (see docs/data.md for the list)")
    if entry.override is not None:
        fail(f"{entry.override} exists already: edit it, or remove it to start again")
    target = override_folder() / entry.relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(entry.shipped, target)
    click.echo(f"{target}  (copy of the shipped {entry.relative}; kokuho now reads the copy)")


def _table(rows: list[tuple[str, str, str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(("key", "value"))]
    click.echo(f"  {'key':<{widths[0]}}  {'value':<{widths[1]}}  source")
    for key, value, source in rows:
        click.echo(f"  {key:<{widths[0]}}  {value:<{widths[1]}}  {_cut(source, _SOURCE_WIDTH)}")


def _shown(value: Any, local_choice: bool) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    # A local choice has no official value to look up: the office sets its own.
    return _cut(text, _VALUE_WIDTH) + (" (local choice)" if local_choice else "")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


__all__: Sequence[str] = ("data",)
