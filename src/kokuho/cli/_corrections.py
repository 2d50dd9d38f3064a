"""The lines of a 更正 run (保険料の賦課決定の更正) as both commands that run one print them:
each decision with its kind (当初賦課, 増額賦課, 減額賦課) and each refusal with its reason."""

from __future__ import annotations

from typing import Any

import click

KIND_NAMES = {"initial": "当初賦課", "increase": "増額賦課", "decrease": "減額賦課"}


def echo_decisions(run: Any) -> None:
    """One indented line per decision of ``run``, then one per refused household."""
    for c in run.changes:
        change = f"{c.previous_total:,}円 → {c.total:,}円"
        click.echo(f"  {c.household_id} {KIND_NAMES[c.kind]}: {change}")
    for r in run.refused:
        click.echo(f"  {r.household_id} refused: {r.reason}")
