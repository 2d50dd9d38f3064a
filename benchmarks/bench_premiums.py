"""Premiums benchmark (issue 12): 本算定 of a municipality's households for a fiscal year through
the real path of ``assess_fiscal_year``, on SQLite and on PostgreSQL, against a bare scan of
the same register rows in the same run.

    .venv/bin/python benchmarks/bench_premiums.py [--households 1000000] [--sample 5000]
        [--databases sqlite,postgresql] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Input: ``--households`` synthetic households of 国保 shapes (about 2.3 members each, heads and
spouses mostly 65–74 with 公的年金, many low or no incomes, a few 擬制世帯主,
特定同一世帯所属者 and so 特定世帯, mid-year acquisitions and losses, 3 % 未申告), written into
the register's own tables as the loaders leave them (``_premiums_register``: persons,
residents with a stay in their household, My Number links for one in three, 国保 and 後期
coverages, the FY2023 incomes), priced under the shipped FY2023 rules of 高松市 (372013).

- **scan**: the register rows the assessment reads (stays of the municipality, residents,
  links, incomes, 国保 and 後期 coverages), each table read whole into Arrow with no join
  (SQLite: lines built by SQLite, ``group_concat``; PostgreSQL: ``COPY … TO STDOUT``; both
  parsed by ``pyarrow.csv``): what any assessment must read.
- **assess**: the real path: ``household_columns`` (the joined inputs of every household
  from SQL) and ``assess_table`` (the columnar 本算定), as ``assess_fiscal_year`` runs them
  before it records the 調定.
- **engine**: the per-household engine ``assess(…, with_reasons=False)`` on ``--sample``
  households already in memory (its rate, to show the ratio).

Prints and writes JSON to benchmarks/out/premiums.json (``--out``).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

from kokuho.premiums import (
    assess,
    assess_table,
    load_premium_rules,
)
from kokuho.premiums._assess_columnar_tables import household_input
from kokuho.premiums._households_columnar import household_columns
from kokuho.store import connect

try:  # run as a script (benchmarks/ on sys.path) or as a module of the benchmarks package
    from benchmarks._machine import machine
    from benchmarks._premiums_register import write_register
except ImportError:
    from _machine import machine  # type: ignore[no-redef]
    from _premiums_register import write_register  # type: ignore[no-redef]

OUT = Path(__file__).parent / "out"
YEAR, CITY = 2023, "372013"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_RATE, GOAL_SHARE = 100_000, 0.25
NULL = -10_000_000
"""A day number standing for a null date while generating."""


def _days(year: int, month: int = 1, day: int = 1) -> int:
    return int(np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D").astype(np.int64))


def generate(households: int, seed: int = 12) -> tuple[pa.Table, pa.Table]:
    """Synthetic households and members (ids are integers: a database key)."""
    rng = np.random.default_rng(seed)
    size = rng.choice([1, 2, 3, 4, 5], households, p=[0.30, 0.35, 0.15, 0.12, 0.08])
    owner = np.repeat(np.arange(households), size)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(size) - size, size)
    n = len(owner)
    # Heads: 45 % aged 65–74 (pensioners), 35 % 40–64, 20 % 20–39; spouses near; others young.
    head_age = rng.choice([70, 52, 30], households, p=[0.45, 0.35, 0.20])
    head_age = head_age + rng.integers(-5, 5, households)
    age = np.where(
        rank == 0,
        head_age[owner],
        np.where(rank == 1, head_age[owner] + rng.integers(-4, 3, n), rng.integers(0, 26, n)),
    )
    birth = _days(YEAR, 4, 1) - age * 365 - rng.integers(0, 365, n)
    old = age >= 65
    working = (age >= 20) & ~old
    pension = np.where(old, rng.lognormal(13.8, 0.6, n).astype(np.int64), 0)
    pension = np.where(old & (rng.random(n) < 0.15), 0, pension)
    earner = working & (rng.random(n) < 0.6)
    salary = np.where(earner, rng.lognormal(14.4, 0.8, n).astype(np.int64), 0)
    salary = np.where(old & (rng.random(n) < 0.1), rng.lognormal(13.5, 0.5, n), salary)
    other = np.where(rng.random(n) < 0.12, rng.lognormal(13.5, 1.3, n).astype(np.int64), 0)
    acquired = np.where(
        rng.random(n) < 0.06,
        _days(YEAR, 4, 1) + rng.integers(0, 366, n),
        np.maximum(birth, _days(2008, 4, 1) + rng.integers(0, 5000, n)),
    )
    acquired = np.maximum(acquired, birth)
    lost = np.where(rng.random(n) < 0.06, acquired + rng.integers(1, 400, n), NULL)
    # 擬制世帯主 (2 % of heads) and 特定同一世帯所属者 (1 % of spouses) are listed, not covered.
    not_member = ((rank == 0) & (rng.random(n) < 0.02)) | ((rank == 1) & (rng.random(n) < 0.01))
    specified_same = (rank == 1) & ~not_member & (rng.random(n) < 0.01)
    not_member |= specified_same
    acquired = np.where(not_member, NULL, acquired)
    lost = np.where(not_member, NULL, lost)
    jobless = working & (rng.random(n) < 0.01)
    unemployment = np.where(jobless, _days(YEAR - 1, 4, 1) + rng.integers(0, 700, n), NULL)
    due = np.where(
        (age >= 20) & (age < 45) & (rng.random(n) < 0.004),
        _days(YEAR, 4, 1) + rng.integers(0, 400, n),
        NULL,
    )
    members = pa.table(
        {
            "household_id": pa.array(owner, pa.int64()),
            "person_id": pa.array(np.arange(n) + 1, pa.int64()),
            "birth_date": _date(birth),
            "acquired": _date(acquired),
            "lost": _date(lost),
            "salary": pa.array(salary.astype(np.int64)),
            "pension": pa.array(pension.astype(np.int64)),
            "other": pa.array(other.astype(np.int64)),
            "declared": pa.array(rng.random(n) >= 0.03),
            "wage_earner": pa.array(salary > 0),
            "specified_same_household": pa.array(specified_same),
            "involuntary_unemployment_from": _date(unemployment),
            "former_dependant": pa.array(old & (rank == 1) & (rng.random(n) < 0.01)),
            "delivery_due": _date(due),
        }
    )
    since = np.where(
        (size == 1) & (rng.random(households) < 0.06),
        _days(YEAR, 4, 1) - rng.integers(0, 9 * 365, households),
        NULL,
    )
    heads = np.cumsum(size) - size + 1
    asset = np.where(rng.random(households) < 0.35, rng.lognormal(11, 0.8, households), 0)
    households_table = pa.table(
        {
            "household_id": pa.array(np.arange(households), pa.int64()),
            "head_person_id": pa.array(heads, pa.int64()),
            "fixed_asset_tax": pa.array(asset.astype(np.int64)),
            "specified_household_since": _date(since),
        }
    )
    return members, households_table


def _date(days: Any) -> pa.Array:
    values = np.asarray(days, dtype=np.int32)
    return pa.array(values, pa.int32(), mask=values == NULL).cast(pa.date32())


# -- the register and its bare scan -------------------------------------------------------------

#: (table, columns, filter) of every register row the assessment reads, read with no join.
SCANNED = (
    ("resident_households", "household_id, resident_id, relationship, valid_from, valid_to",
     f"municipality_code = '{CITY}'"),
    ("residents", "resident_id, birth_date, match_key", None),
    ("person_mynumbers", "person_id, resident_id", None),
    ("premium_incomes",
     "resident_id, salary, pension, other, declared, wage_earner, fixed_asset_tax",
     f"fiscal_year = {YEAR}"),
    ("coverages", "person_id, insurer_number, acquired_on, lost_on",
     "insurer_number IN ('370015', '39370010')"),
)  # fmt: skip


def _scan_one(engine: sa.Engine, table: str, names: str, where: str | None) -> pa.Table:
    condition = f" WHERE {where}" if where else ""
    sql = f"SELECT {names} FROM {table}{condition}"
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        if engine.dialect.name == "sqlite":
            line = " || ',' || ".join(f"ifnull({n.strip()}, '')" for n in names.split(","))
            (text,) = raw.execute(f"SELECT group_concat({line}, char(10)) FROM ({sql})").fetchone()
            data = (text or "").encode()
        else:
            buffer = bytearray()
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy,
            ):
                for block in copy:
                    buffer += block
            data = bytes(buffer)
    columns = [n.strip() for n in names.split(",")]
    return pacsv.read_csv(pa.py_buffer(data), read_options=pacsv.ReadOptions(column_names=columns))


def bare_scan(engine: sa.Engine) -> int:
    """Every scanned table into Arrow, two at a time (as the real path reads two queries)."""
    with ThreadPoolExecutor(2) as pool:
        tables = list(pool.map(lambda spec: _scan_one(engine, *spec), SCANNED))
    return sum(t.num_rows for t in tables)


def open_database(kind: str, folder: Path, postgres: str) -> tuple[sa.Engine, Callable[[], None]]:
    """A fresh database of ``kind`` with the schema, and how to drop it."""
    if kind == "sqlite":
        engine = connect(f"sqlite:///{folder / 'premiums.sqlite'}")
        return engine, engine.dispose
    schema_name = f"bench_premiums_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema_name}"')
    separator = "&" if "?" in postgres else "?"
    engine = connect(f"{postgres}{separator}options=-csearch_path%3D{schema_name}")

    def drop() -> None:
        engine.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')
        admin.dispose()

    return engine, drop


# -- measuring ---------------------------------------------------------------------------------


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def measure(name: str, engine: sa.Engine, households: int, rules: Any) -> dict[str, Any]:
    scan, rows = _timed(lambda: bare_scan(engine))

    def real_path() -> tuple[pa.Table, int]:
        members, house = household_columns(engine, CITY, YEAR)
        return assess_table(members, house, rules), members.num_rows

    both, (result, members) = _timed(real_path)
    fallback = int(np.sum(result.column("engine").to_numpy(zero_copy_only=False) != "columnar"))
    assessed = result.num_rows
    figures = {
        "scanned_rows": rows,
        "scan_seconds": round(scan, 3),
        "scan_households_per_second": round(households / scan),
        "assessed_households": assessed,
        "assessed_members": members,
        "assess_seconds": round(both, 3),
        "assess_households_per_second": round(households / both),
        "share_of_scan": round(scan / both, 3),
        "fallback_households": fallback,
        "premium_total_yen": int(np.sum(result.column("total").to_numpy())),
    }
    print(f"{name}: {json.dumps(figures)}", flush=True)
    return figures


def engine_rate(members: pa.Table, households: pa.Table, sample: int, rules: Any) -> dict[str, Any]:
    """The per-household engine over the first ``sample`` households (inputs built beforehand)."""
    house_rows = households.slice(0, sample).to_pylist()
    wanted = members.filter(pa.compute.less(members.column("household_id"), sample)).to_pylist()
    by_household: dict[int, list[dict[str, Any]]] = {}
    for row in wanted:
        by_household.setdefault(row["household_id"], []).append(row)
    inputs = [household_input(h, by_household[h["household_id"]], rules) for h in house_rows]
    seconds, assessed = _timed(lambda: [assess(h, rules, with_reasons=False) for h in inputs])
    # The columnar path must give the engine's totals on the same households.
    sample_members = members.filter(pa.compute.less(members.column("household_id"), sample))
    columnar = assess_table(sample_members, households.slice(0, sample), rules)
    agrees = columnar.column("total").to_pylist() == [a.total for a in assessed]
    return {
        "households": sample,
        "seconds": round(seconds, 3),
        "households_per_second": round(sample / seconds),
        "columnar_agrees": agrees,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=5_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--out", type=Path, default=OUT / "premiums.json")
    args = parser.parse_args(argv)
    rules = load_premium_rules(YEAR, CITY)
    report: dict[str, Any] = {"machine": machine(), "households": args.households}
    seconds, (members, households) = _timed(lambda: generate(args.households))
    report["members"] = members.num_rows
    print(
        f"generated {args.households:,} households, {members.num_rows:,} members in {seconds:.1f}s"
    )
    report["engine"] = engine_rate(members, households, min(args.sample, args.households), rules)
    print(f"engine: {json.dumps(report['engine'])}", flush=True)
    for kind in args.databases.split(","):
        with tempfile.TemporaryDirectory() as folder:
            engine, drop = open_database(kind, Path(folder), args.postgres)
            try:
                seconds, _ = _timed(
                    lambda: write_register(engine, CITY, YEAR, members, households)  # noqa: B023
                )
                print(f"{kind}: register written in {seconds:.1f}s", flush=True)
                report[kind] = measure(kind, engine, args.households, rules)
            finally:
                drop()
    for name in ("sqlite", "postgresql"):
        if name in report:
            figures = report[name]
            figures["goal_met"] = (
                figures["assess_households_per_second"] >= GOAL_RATE
                and figures["share_of_scan"] >= GOAL_SHARE
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
