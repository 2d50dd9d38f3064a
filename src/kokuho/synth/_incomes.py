"""Incomes (所得) of the synthetic residents, one file per fiscal year in the format users
feed in (docs/formats.md §8): ``incomes/incomes_FY{year}.csv`` holds the calendar year before.

Realistic by age and kind, so every 軽減 class occurs: children have none; working-age
people earn salaries (給与所得 after the 給与所得控除 of 令和2年分 onwards), run businesses
(other income) or earn nothing; from 65 most live on a public pension (雑所得 after the
公的年金等控除 for 65+), some still work. A few adults do not declare (未申告). Heads of
household more often own land or a house (固定資産税額).

Drawn from their own random stream: every other file is the same with or without incomes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections import Counter
from pathlib import Path

from kokuho.synth._households import relationships
from kokuho.synth._outputs import Written, clear_earlier
from kokuho.synth._world import World
from kokuho.synth._writers import write_table

FOLDER = "incomes"
COLUMNS = ("fiscal_year", "resident_id", "salary", "pension", "other", "declared",
           "wage_earner", "fixed_asset_tax")  # fmt: skip
UNDECLARED = 0.03  # adults without a 市町村民税 declaration (未申告)
GROWTH = 0.01  # nominal drift a year


def prepare(out_dir: Path, overwrite: bool) -> None:
    """Refuses to mix with the income files of an earlier run, or removes them to overwrite."""
    folder = out_dir / FOLDER
    earlier = sorted(folder.glob("incomes_FY*.csv")) if folder.is_dir() else []
    clear_earlier(folder, earlier, "the income files", overwrite)


def salary_income(gross: int) -> int:
    """給与所得 from 給与収入 (給与所得控除, 令和2年分以降)."""
    if gross <= 550_000:
        return 0
    if gross <= 1_625_000:
        return gross - 550_000
    if gross <= 1_800_000:
        return math.floor(gross * 0.6) + 100_000
    if gross <= 3_600_000:
        return math.floor(gross * 0.7) - 80_000
    if gross <= 6_600_000:
        return math.floor(gross * 0.8) - 440_000
    if gross <= 8_500_000:
        return math.floor(gross * 0.9) - 1_100_000
    return gross - 1_950_000


def pension_income(gross: int) -> int:
    """公的年金等に係る雑所得 of a person aged 65 or more (other income ≤ 1,000万円)."""
    if gross <= 3_300_000:
        return max(0, gross - 1_100_000)
    if gross <= 4_100_000:
        return math.floor(gross * 0.75) - 275_000
    return math.floor(gross * 0.85) - 685_000


def fiscal_years(start: dt.date, last: dt.date) -> list[int]:
    """The fiscal years (年度) the simulated period touches."""
    first = start.year if start.month >= 4 else start.year - 1
    final = last.year if last.month >= 4 else last.year - 1
    return list(range(first, final + 1))


def _lognormal(median: float, sigma: float, z: float) -> float:
    """A log-normal draw from the person's lasting standard-normal ``z``."""
    return median * math.exp(sigma * z)


def write(world: World, out_dir: Path, seed: int, resident_ids: dict[int, str]) -> Written:
    """Writes one income file per simulated fiscal year for every resident at the end."""
    w = world
    digest = hashlib.sha256(f"incomes-{seed}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    roles = relationships(w)
    people = sorted(resident_ids)
    # Each person's lasting traits: kind of work, earning level, property, declaring.
    traits = {
        pid: (rng.random(), rng.gauss(0, 1), rng.random(), rng.gauss(0, 1), rng.random())
        for pid in people
    }
    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    files: list[str] = []
    start, last = dt.date.fromordinal(w.start), dt.date.fromordinal(w.last)
    for year in fiscal_years(start, last):
        income_year_end = dt.date(year - 1, 12, 31).toordinal()
        drift = (1 + GROWTH) ** (year - start.year)
        rows = []
        for pid in people:
            if w.birth[pid] > income_year_end:
                continue  # born after the income year: no record, as in 市町村民税 data
            row = _income(w, pid, income_year_end, drift, traits[pid], roles.get(pid))
            counts["incomes_undeclared"] += row[3] == "0"
            counts["incomes_zero"] += row[3] == "1" and row[:3] == ("0", "0", "0")
            rows.append((str(year), resident_ids[pid], *row))
        name = f"{FOLDER}/incomes_FY{year}.csv"
        counts["incomes_rows"] += write_table(out_dir / name, COLUMNS, rows)
        files.append(name)
    return Written(files, dict(counts))


def _income(
    world: World,
    pid: int,
    day: int,
    drift: float,
    traits: tuple[float, float, float, float, float],
    role: str | None,
) -> tuple[str, str, str, str, str, str]:
    """(salary, pension, other, declared, wage_earner, fixed_asset_tax) of one year."""
    kind, level, owns, asset_level, declares = traits
    age = world.age(pid, day)
    high = 2.0 if world.income[pid] == 2 else 1.0  # the world's 現役並み class earns more
    wages = pension = other = 0
    if 15 <= age < 20 and kind < 0.15:
        wages = round(_lognormal(700_000, 0.4, level) * drift)
    elif 20 <= age < 65:
        if kind < 0.62:
            wages = round(_lognormal(3_500_000 * high, 0.5, level) * drift)
        elif kind < 0.74:
            other = round(_lognormal(2_200_000 * high, 0.7, level) * drift)
        elif kind < 0.80:
            wages = round(_lognormal(1_000_000, 0.3, level) * drift)
    elif age >= 65:
        base = 1_800_000 if world.sex[pid] == 1 else 1_250_000
        pension = round(_lognormal(base * high, 0.45, level) * drift)
        if age < 75 and kind < 0.25:
            wages = round(_lognormal(2_000_000, 0.5, level) * drift)
    declared = not (age >= 20 and declares < UNDECLARED)
    if not declared:
        wages = pension = other = 0
    wage_earner = wages > 550_000 or pension > (1_250_000 if age >= 65 else 600_000)
    asset_share = 0.55 if role == "世帯主" else 0.05
    asset = round(_lognormal(60_000, 0.6, asset_level)) if owns < asset_share else 0
    salary = salary_income(wages)
    misc = pension_income(pension)
    return (str(salary), str(misc), str(other), "1" if declared else "0",
            "1" if wage_earner else "0", str(asset))  # fmt: skip
