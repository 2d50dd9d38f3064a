"""The premiums part of ``kokuho demo``: incomes loaded, every municipality's fiscal years
assessed (本算定), the synthetic payments and 督促 written from the recorded 調定 and imported,
what prescribed written off (不納欠損), 過誤納金 settled, and 調定 and 収納率 reported
(docs/premiums.md, "In the demo")."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from rich.console import Console

from kokuho.premiums import (
    Arrear,
    accounts_close,
    arrears,
    assess_fiscal_year,
    collection_rates,
    decide_refunds,
    import_payments,
    import_reminders,
    load_grounds,
    load_incomes,
    percent,
    run_write_offs,
    shipped_municipalities,
)
from kokuho.synth import write_payments

#: 本算定 is decided in June, once the previous year's incomes are known (a plausible day).
ASSESSED_ON = (6, 15)


def load_premiums(engine: sa.Engine, data: Path, seed: int, console: Console) -> dict[str, Any]:
    """Loads and assesses the demo's premiums; returns the summary of docs/premiums.md."""
    with console.status("保険料 (incomes, 本算定, 収納)"):
        years = sorted(
            report.fiscal_year
            for path in sorted((data / "incomes").glob("incomes_FY*.csv"))
            if (report := load_incomes(engine, path)).fiscal_year is not None
        )
        if not years:
            raise ValueError(f"{data / 'incomes'}: no income files to assess premiums on")
        # 旧被扶養者 and 非自発的失業 (docs/formats.md §8a), before the 本算定 that reads them.
        for path in sorted((data / "grounds").glob("reduction_grounds*.csv")):
            load_grounds(engine, path)
        runs = [
            assess_fiscal_year(engine, code, year, dt.date(year, *ASSESSED_ON))
            for year in years
            for code in shipped_municipalities(year)
        ]
        codes = sorted({run.municipality for run in runs})
        charges = _charges(engine, codes, years)
        written = write_payments(data, seed, charges)
        loaded = sum(import_payments(engine, data / name).added for name in written.files)
        reminded = sum(
            import_reminders(engine, path).added
            for path in sorted((data / "reminders").glob("reminders_FY*.csv"))
        )
        # 不納欠損 of what prescribed, at the end of the last fiscal year (年度末), then the
        # 過誤納金 (a payment after prescription among them) settled when its accounts close
        # (出納閉鎖), after every duplicate payment (at most 20 days after a 納期限 in March):
        # 充当 to arrears first, then 還付.
        year_end = dt.date(years[-1] + 1, 3, 31)
        written_off = [w for code in codes for w in run_write_offs(engine, code, year_end)]
        closed = accounts_close(years[-1])
        settled = [s for code in codes for s in decide_refunds(engine, code, closed)]
        overdue = [a for code in codes for a in arrears(engine, code, closed).arrears]
    return {
        "fiscal_years": [_year(engine, year, runs) for year in years],
        "payments_files": written.files,
        "payments": loaded,
        "households_by_habit": {
            k.removeprefix("payments_households_"): v
            for k, v in written.counts.items()
            if k.startswith("payments_households_")
        },
        "reminders": reminded,
        "write_offs": {
            "on": year_end.isoformat(),
            "instalments": len(written_off),
            "yen": sum(w.amount for w in written_off),
        },
        "arrears_on": closed.isoformat(),
        "arrears_households": len({(a.municipality, a.household_id) for a in overdue}),
        "arrears_yen": sum(a.outstanding for a in overdue),
        "overpayments": {
            "appropriated_yen": sum(s.amount for s in settled if s.kind == "appropriation"),
            "refunded_yen": sum(s.amount for s in settled if s.kind == "refund"),
            "households": len({(s.municipality, s.household_id) for s in settled}),
        },
    }


def _charges(engine: sa.Engine, codes: list[str], years: list[int]) -> list[Arrear]:
    """Every recorded 納期 with its 調定, read before any payment: on a day after the last
    納期限 each one is overdue and unpaid, so the arrears report lists them all (those whose
    徴収権 has prescribed by then apart: both, in the report's order)."""
    after = dt.date(max(years) + 2, 4, 1)
    found = []
    for code in codes:
        report = arrears(engine, code, after)
        found += sorted(
            [*report.arrears, *report.prescribed],
            key=lambda a: (a.household_id, a.due, a.fiscal_year, a.instalment),
        )
    return found


def _year(engine: sa.Engine, year: int, runs: list[Any]) -> dict[str, Any]:
    rates = collection_rates(engine, year)
    charged = sum(r.current_charged for r in rates)
    collected = sum(r.current_collected for r in rates)
    carried = sum(r.carried_charged for r in rates)
    carried_collected = sum(r.carried_collected for r in rates)
    reductions: dict[str, int] = {}
    for run in runs:
        if run.fiscal_year == year:
            for name, n in run.reductions.items():
                reductions[name] = reductions.get(name, 0) + n
    return {
        "fiscal_year": year,
        "municipalities": sum(1 for run in runs if run.fiscal_year == year and run.households),
        "households": sum(run.households for run in runs if run.fiscal_year == year),
        "charged_yen": sum(run.total for run in runs if run.fiscal_year == year),
        "reductions": reductions,
        "current_charged_yen": charged,
        "current_collected_yen": collected,
        "current_percent": percent(Fraction(collected, charged) if charged else None),
        "carried_charged_yen": carried,
        "carried_collected_yen": carried_collected,
        "carried_percent": percent(Fraction(carried_collected, carried) if carried else None),
        "by_municipality": [r.as_json() for r in rates],
    }


def print_premiums(premiums: dict[str, Any]) -> None:
    """The demo report's lines: per fiscal year 調定 and the prefecture's 現年分 収納率."""
    for year in premiums["fiscal_years"]:
        click.echo(
            f"保険料 {year['fiscal_year']}年度: {year['households']:,} 世帯 in "
            f"{year['municipalities']} 市町, 調定 {year['charged_yen']:,}円, "
            f"収納率 現年分 {year['current_percent'] or '—'}%, "
            f"滞納繰越分 {year['carried_percent'] or '—'}%"
        )
    over = premiums["overpayments"]
    off = premiums["write_offs"]
    click.echo(
        f"督促: {premiums['reminders']:,}; 不納欠損 on {off['on']} (時効): "
        f"{off['instalments']:,} 期 {off['yen']:,}円"
    )
    click.echo(
        f"収納: {premiums['payments']:,} payments from {len(premiums['payments_files'])} files; "
        f"滞納 on {premiums['arrears_on']}: {premiums['arrears_households']:,} 世帯 "
        f"{premiums['arrears_yen']:,}円; 過誤納金 {over['households']} 世帯 "
        f"(充当 {over['appropriated_yen']:,}円, 還付 {over['refunded_yen']:,}円)"
    )
