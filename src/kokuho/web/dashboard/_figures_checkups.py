"""特定健診・特定保健指導 figures for the comparison and the municipality pages: 実施率 by
municipality for every fiscal year whose eligibility snapshot is in the lake, and by sex and
5-year band; the targets from kokuho.checkups.load_targets(); the programme lists."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kokuho.checkups import (
    Lake,
    ProgrammeList,
    checkup_rates,
    guidance_rates,
    load_targets,
    nephropathy_referrals,
    read_archive,
    reporting_cutoff,
)
from kokuho.ids import FiscalYear
from kokuho.web.dashboard._charts import Target

_YEAR = re.compile(r"fiscal_year=([0-9]{4})")


def snapshot_years(lake: Lake) -> list[int]:
    """Fiscal years whose eligibility snapshot (the denominators) was exported."""
    years = set()
    for path in lake.files("eligibility"):
        found = _YEAR.search(path.as_posix())
        if found:
            years.add(int(found.group(1)))
    return sorted(years)


@dataclass(frozen=True)
class Targets:
    """The targets drawn on the charts, as the data file gives them for the year."""

    checkup: list[Target]
    guidance: list[Target]
    confirmed: dict[str, bool]
    sources: list[str]


def targets_for(fiscal_year: int) -> Targets:
    loaded = load_targets()
    found: dict[str, list[Target]] = {"checkup": [], "guidance": []}
    confirmed: dict[str, bool] = {}
    sources: list[str] = []
    measures: tuple[Literal["checkup", "guidance"], ...] = ("checkup", "guidance")
    for measure in measures:
        for scope, label in (("kokuho_municipal", "市町村国保の目標"), ("national", "全国目標")):
            try:
                target = loaded.find(fiscal_year, scope, measure)
            except ValueError:
                target = None
            if target is None or (scope == "national" and target.scope != "national"):
                continue
            if any(abs(t.value - target.rate) < 1e-9 for t in found[measure]):
                continue
            mark = "" if target.confirmed else " (未確認)"
            found[measure].append(Target(target.rate, f"{label} {target.rate:.0%}{mark}"))
            confirmed[f"{measure}:{scope}"] = target.confirmed
            sources.append(f"{measure} {scope}: {target.source}")
    return Targets(found["checkup"], found["guidance"], confirmed, sources)


@dataclass(frozen=True)
class CheckupFigures:
    years: list[int]
    #: (year, municipality code) → checkup row {eligible, examined, rate}
    checkup: dict[tuple[int, str], dict[str, Any]]
    guidance: dict[tuple[int, str], dict[str, Any]]
    #: (year, municipality code) → rows by sex and band
    checkup_cells: dict[tuple[int, str], list[dict[str, Any]]]
    guidance_cells: dict[tuple[int, str], list[dict[str, Any]]]
    #: year → 市町村国保 of the prefecture together
    prefecture: dict[int, dict[str, Any]]


def data_until(lake: Lake) -> dt.date | None:
    """The newest date the lake's checkups and guidance record (None: no data)."""
    dates = []
    for name, columns in (
        ("checkups", ("exam_date",)),
        ("guidance", ("started_on", "evaluated_on")),
    ):
        if lake.has_table(name):
            table = lake.table(name)
            dates += [lake.con.to_pyarrow(table[c].max()).as_py() for c in columns]
    known = [d for d in dates if d is not None]
    return max(known) if known else None


def checkup_figures(lake_root: Path, report: Any) -> CheckupFigures:
    lake = Lake(lake_root)
    years = snapshot_years(lake)
    checkup: dict[tuple[int, str], dict[str, Any]] = {}
    guidance: dict[tuple[int, str], dict[str, Any]] = {}
    checkup_cells: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    guidance_cells: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    prefecture: dict[int, dict[str, Any]] = {}
    steps = max(1, len(years) * 4)
    until = data_until(lake)
    done = 0
    for year in years:
        for name, compute, into, cells in (
            ("特定健診", checkup_rates, checkup, checkup_cells),
            ("特定保健指導", guidance_rates, guidance, guidance_cells),
        ):
            report(done / steps, f"{FiscalYear(year).label} {name} 実施率 (市町村別)")
            rows = lake.con.to_pyarrow(compute(lake, year, ("municipality",))).to_pylist()
            done += 1
            for row in rows:
                into[(year, row["municipality"])] = row
            report(done / steps, f"{FiscalYear(year).label} {name} 実施率 (性・年齢階級別)")
            for row in lake.con.to_pyarrow(
                compute(lake, year, ("municipality", "sex", "band"))
            ).to_pylist():
                cells[(year, row["municipality"])].append(row)
            done += 1
        eligible = sum(r["eligible"] for (y, _), r in checkup.items() if y == year)
        examined = sum(r["examined"] for (y, _), r in checkup.items() if y == year)
        targets = sum(r["targets"] for (y, _), r in guidance.items() if y == year)
        completed = sum(r["completed"] for (y, _), r in guidance.items() if y == year)
        prefecture[year] = {
            # Guidance of a year is complete only once the lake holds data up to its 実績評価
            # cutoff; before that the rate is 集計途中 and reads too low.
            "complete": until is not None and until >= reporting_cutoff(year),
            "eligible": eligible,
            "examined": examined,
            "rate": examined / eligible if eligible else None,
            "targets": targets,
            "completed": completed,
            "guidance_rate": completed / targets if targets else None,
        }
    return CheckupFigures(
        years, checkup, guidance, dict(checkup_cells), dict(guidance_cells), prefecture
    )


def default_year(figures: CheckupFigures) -> tuple[int | None, bool]:
    """The year a page opens on, and whether it is complete: the newest fiscal year whose
    実績評価 reporting cutoff the lake's data have passed (a newer year's guidance is still
    being reported and most of its rates read too low), else the newest year."""
    complete = [y for y in figures.years if figures.prefecture.get(y, {}).get("complete")]
    if complete:
        return complete[-1], True
    return (figures.years[-1], False) if figures.years else (None, False)


def incomplete_years(figures: CheckupFigures) -> list[int]:
    """Years before their reporting cutoff (報告期限前), marked in the year picker."""
    return [y for y in figures.years if not figures.prefecture.get(y, {}).get("complete")]


def programme_lists(
    archives: Path | None, years: list[int], report: Any
) -> dict[int, ProgrammeList]:
    """糖尿病性腎症重症化予防 受診勧奨対象者 per fiscal year, from the V08 archives the lake was
    fed with (the lake keeps flat measures, the rules read whole documents)."""
    if archives is None or not archives.is_dir():
        return {}
    found = []
    paths = sorted(archives.glob("*.zip"))
    for k, path in enumerate(paths):
        if k % 20 == 0:
            report(k / max(1, len(paths)), f"特定健診の電子データを読込中 ({k}/{len(paths)})")
        found += read_archive(path).checkups
    lists = {}
    for year in years:
        lists[year] = nephropathy_referrals(found, fiscal_year=year)
    return lists
