from __future__ import annotations

import click


@click.group(name="synth")
def synth() -> None:
    """(being built)"""
