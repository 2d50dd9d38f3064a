from __future__ import annotations

import click


@click.group()
def residents() -> None:
    """(being built)"""


@click.group()
def mynumber() -> None:
    """(being built)"""
