from __future__ import annotations

import click


@click.group(name="ids")
def ids() -> None:
    """(being built)"""
