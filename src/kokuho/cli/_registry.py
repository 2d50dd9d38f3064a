from __future__ import annotations

import click


@click.group()
def registry() -> None:
    """(being built)"""
