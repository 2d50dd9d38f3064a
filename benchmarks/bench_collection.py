"""Collection ledger benchmark (issue 12): 収納率 of three fiscal years, as the incentives
indicator 固有① asks for it, over varied ledgers, credit by credit (the allocation of
``ledgers``, before) and set-based (``collection_rates``, after), with the same answers.

    .venv/bin/python benchmarks/bench_collection.py [--households 10000] [--municipalities 5]
        [--database sqlite|URL] [--out benchmarks/out/collection.json]

The ledgers are written through the premiums room's public writers (``record_charges_many``,
``import_payments``, ``decide_refunds``), so they hold what users' data holds: 本算定 decided
on 15 June, 増額・減額更正 (some after the year's accounts closed, some after a refund),
payments that name their 期 (on time, late by up to two years, part, twice), payments that
name none (oldest first), households mixing both, nothing paid, and 充当 and 還付 decided
twice a year. ``build_ledgers`` is also what tests/test_premiums_collection_states.py uses
(small) to check that both paths agree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.premiums import (
    Assessment,
    Instalment,
    PartAssessment,
    collection_rates,
    decide_refunds,
    import_payments,
    record_charges_many,
)
from kokuho.premiums._collection_rate import allocated_states, rates_from
from kokuho.store import connect

try:  # run as a script (benchmarks/ on sys.path) or as a module of the benchmarks package
    from benchmarks._machine import machine
except ImportError:
    from _machine import machine  # type: ignore[no-redef]

OUT = Path(__file__).parent / "out"
FIRST_YEAR = 2020
YEARS = (2020, 2021, 2022)
HABITS = (
    ("named", 0.55),
    ("unnamed", 0.10),
    ("mixed", 0.05),
    ("twice", 0.05),
    ("late", 0.10),
    ("partial", 0.08),
    ("none", 0.07),
)
PAYMENT_HEADER = "payment_id,municipality,household,fiscal_year,instalment,paid_on,amount,channel"


def _due(fiscal_year: int, number: int) -> dt.date:
    """第number期: the last day of the month, July to the next April."""
    month = 6 + number
    year = fiscal_year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def _assessment(
    municipality: str, household: str, fiscal_year: int, amounts: Sequence[int]
) -> Assessment:
    instalments = tuple(
        Instalment(n, _due(fiscal_year, n), a) for n, a in enumerate(amounts, start=1)
    )
    part = PartAssessment("medical", 0, 0, 0, 0, False, sum(amounts))
    return Assessment(household, municipality, fiscal_year, (part,), None, instalments)


def _changed(rng: random.Random, amounts: list[int], after: int) -> list[int]:
    """A 更正 of ``amounts``: a 減額 from the latest 期 backwards or a 増額 on the 期 from
    ``after`` (0-based) on, by a random amount."""
    new = list(amounts)
    if rng.random() < 0.6 and sum(new) > 0:
        left = rng.randint(1, sum(new))
        for k in reversed(range(len(new))):
            take = min(left, new[k])
            new[k] -= take
            left -= take
    else:
        for k in range(min(after, len(new) - 1), len(new)):
            new[k] += rng.randrange(1, 50) * 100
    return new


def build_ledgers(
    engine: sa.Engine, folder: Path, households: int, municipalities: int, seed: int = 1
) -> dict[str, int]:
    """Writes varied 調定, payments and 過誤納金 decisions for ``households`` households in
    ``municipalities`` municipalities over YEARS; returns counts."""
    rng = random.Random(seed)
    codes = [f"3720{n:02d}" for n in range(1, municipalities + 1)]
    initial: list[Assessment] = []
    later: dict[dt.date, dict[str, list[Assessment]]] = {}
    rows: list[str] = []
    for n in range(households):
        municipality = codes[n % len(codes)]
        household = f"H{n:07d}"
        habit = rng.choices([h for h, _ in HABITS], [w for _, w in HABITS])[0]
        for year in YEARS:
            amounts = [rng.randrange(0, 400) * 100 for _ in range(10)]
            initial.append(_assessment(municipality, household, year, amounts))
            schedule = amounts
            for day, chance in ((dt.date(year + 1, 1, 20), 0.15), (dt.date(year + 2, 2, 10), 0.06)):
                if rng.random() < chance:
                    new = _changed(rng, schedule, 7)
                    if sum(new) == sum(schedule):
                        continue
                    kind = "increase" if sum(new) > sum(schedule) else "decrease"
                    later.setdefault(day, {"increase": [], "decrease": []})[kind].append(
                        _assessment(municipality, household, year, new)
                    )
                    schedule = new
            rows += _payments(rng, habit, municipality, household, year, schedule, len(rows))
    for year in YEARS:
        batch = [a for a in initial if a.fiscal_year == year]
        record_charges_many(engine, batch, dt.date(year, 6, 15), "initial")
    decisions = len(initial)
    settle_days = [dt.date(y, m, d) for y in range(FIRST_YEAR + 1, FIRST_YEAR + 5)
                   for m, d in ((2, 1), (7, 1))]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "payments.csv"
    path.write_text("\n".join([PAYMENT_HEADER, *rows]) + "\n", encoding="utf-8")
    import_payments(engine, path)
    settled = 0
    events = sorted({*later, *settle_days})
    for day in events:
        for kind in ("increase", "decrease"):
            batch = later.get(day, {}).get(kind, [])
            if batch:
                record_charges_many(engine, batch, day, kind)  # type: ignore[arg-type]
                decisions += len(batch)
        if day in settle_days:
            for municipality in codes:
                settled += len(decide_refunds(engine, municipality, day))
    return {"decisions": decisions, "payments": len(rows), "settlements": settled}


def _payments(
    rng: random.Random,
    habit: str,
    municipality: str,
    household: str,
    year: int,
    amounts: Sequence[int],
    start: int,
) -> list[str]:
    found: list[tuple[dt.date, int, int | None]] = []
    for number, amount in enumerate(amounts, start=1):
        if amount <= 0:
            continue
        due = _due(year, number)
        named = habit != "unnamed" and not (habit == "mixed" and number % 2)
        if habit == "none" or (habit == "partial" and rng.random() < 0.5):
            continue
        paid = amount * rng.randint(3, 9) // 10 if habit == "partial" else amount
        late = rng.randint(10, 800) if habit == "late" else -rng.randint(0, 5)
        found.append((due + dt.timedelta(days=late), paid, number if named else None))
        if habit == "twice" and rng.random() < 0.2:
            found.append((due + dt.timedelta(days=rng.randint(1, 20)), amount, number))
    if habit == "unnamed" and found and rng.random() < 0.3:
        day, amount, _ = found.pop()
        found.append((day, amount + rng.randrange(1, 100) * 100, None))  # paid too much
    return [
        f"B{start + k:09d},{municipality},{household},{year},{'' if n is None else n},"
        f"{day.isoformat()},{amount},counter"
        for k, (day, amount, n) in enumerate(found)
    ]


def _rates(engine: sa.Engine, exact: bool) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    found = []
    for year in YEARS:
        if exact:
            found += rates_from(engine, year, None, None, allocated_states)
        else:
            found += collection_rates(engine, year)
    return time.perf_counter() - started, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--municipalities", type=int, default=5)
    parser.add_argument("--database", default="sqlite", help="sqlite, or a database URL")
    parser.add_argument("--out", type=Path, default=OUT / "collection.json")
    args = parser.parse_args(argv)
    started_on = machine()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db" if args.database == "sqlite" else args.database
        engine = connect(url)
        started = time.perf_counter()
        counts = build_ledgers(engine, Path(folder), args.households, args.municipalities)
        setup = time.perf_counter() - started
        before, slow = _rates(engine, exact=True)
        after, fast = _rates(engine, exact=False)
        engine.dispose()
    if slow != fast:
        print("the two paths disagree", file=sys.stderr)
        return 1
    result = {
        "machine": started_on,
        "database": "sqlite" if args.database == "sqlite" else url.split("://")[0],
        "households": args.households,
        "fiscal_years": list(YEARS),
        **counts,
        "setup_seconds": round(setup, 1),
        "before_seconds": round(before, 2),
        "after_seconds": round(after, 2),
        "speed_up": round(before / after, 1),
        "same_answers": True,
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
