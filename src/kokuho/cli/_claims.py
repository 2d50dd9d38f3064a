"""``kokuho claims``: レセ電 files into the lake, and the figures built on them."""

from __future__ import annotations

import click


@click.group()
def claims() -> None:
    """Claims (レセプト): ingest レセ電 files and report generic share, prescribing, cost and
    資格過誤."""
