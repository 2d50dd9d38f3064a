"""``kokuho synth``: write the synthetic prefecture (合成県) in the real file formats."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

from kokuho.cli._commands import SingleValueOptions
from kokuho.cli._output import emit_json, fail, json_option
from kokuho.cli._params import DAY, OUTPUT_FOLDER, PERSONS, SEED, YEARS


@click.command(cls=SingleValueOptions, name="synth")
@click.option("--seed", type=SEED, default=1, show_default=True, help="Random seed.")
@click.option(
    "--persons",
    type=PERSONS,
    default=20_000,
    show_default=True,
    help="People living in the prefecture at the start.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=OUTPUT_FOLDER,
    help="Folder to write into (created if missing).",
)
@click.option(
    "--start",
    type=DAY,
    default="2020-04-01",
    show_default=True,
    help="First simulated day; the opening membership is as of this day.",
)
@click.option("--years", type=YEARS, default=3, show_default=True, help="Years simulated.")
@click.option("--force", is_flag=True, help="Replace the files of an earlier run in --out.")
@json_option
def synth(
    seed: int,
    persons: int,
    out: Path,
    start: dt.datetime,
    years: int,
    force: bool,
    as_json: bool,
) -> None:
    """Write a synthetic Kagawa-like prefecture: insurers.csv, changes/*.csv (資格異動 by
    insurer and filing month), residents.csv (住基), mynumber_submissions.csv and
    manifest.json (docs/formats.md).

    The same --seed and --persons give byte-identical files. Everyone is fictitious. Planted
    on purpose: cross-insurer overlaps (資格重複) from late filings, and wrong or
    differently written My Number submissions; manifest.json counts them.
    """
    from rich.console import Console

    from kokuho.synth import generate

    console = Console(stderr=True)
    began = time.perf_counter()
    try:
        with console.status("synth", spinner="dots") as status:

            def progress(stage: str) -> None:
                if not as_json:
                    status.update(f"synth: {stage}")

            manifest = generate(
                out,
                seed=seed,
                persons=persons,
                start=start.date(),
                years=years,
                overwrite=force,
                progress=progress,
            )
    except FileExistsError as error:
        fail(f"{error} (use --force)")
    except ValueError as error:
        fail(str(error))
    seconds = time.perf_counter() - began
    if as_json:
        emit_json(manifest.to_json())
        return
    c = manifest.counts
    lines = [
        f"{out}: {persons:,} persons in {c['households_initial']:,} households, "
        f"{manifest.start} – {manifest.end}, seed {seed} ({seconds:.1f} s)",
        f"  change feed: {c['files']:,} files, {c['change_rows']:,} rows "
        f"({c.get('rows_acquire', 0):,} 取得, {c.get('rows_lose', 0):,} 喪失, "
        f"{c.get('rows_change', 0):,} 変更)",
        f"  births {c.get('births', 0):,}, deaths {c.get('deaths', 0):,}, moves "
        f"{c.get('moves_between_municipalities', 0):,} between / "
        f"{c.get('moves_within_municipality', 0):,} within municipalities, 75歳到達 "
        f"{c.get('turned_75', 0):,}",
        f"  planted overlaps (資格重複): {c['overlaps_planted']} "
        f"({c['overlaps_open_at_end']} still open at the end)",
        f"  residents {c['residents']:,}; My Number submissions {c['submissions']:,}: "
        f"{c.get('submissions_typo', 0)} mistyped, {c.get('submissions_other_person', 0)} "
        f"someone else's, {c.get('submissions_notation_only', 0)} notation only, "
        f"{c.get('submissions_real_difference', 0)} really different",
    ]
    for line in lines:
        click.echo(line)
