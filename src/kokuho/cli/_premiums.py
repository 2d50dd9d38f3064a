"""``kokuho premiums …``: 国民健康保険料 (docs/premiums.md).

The group is defined here; its commands live in ``cli/_premiums_*.py`` modules, each of which
registers itself on this group. ``cli/_premiums_all.py`` imports them all and is the module the
lazy command table names.
"""

from __future__ import annotations

import click

from kokuho.cli._commands import SingleValueGroup


@click.group(cls=SingleValueGroup)
def premiums() -> None:
    """国民健康保険料: households, incomes, rules, 賦課, 収納, 収納率, 納付金 (docs/premiums.md)."""
