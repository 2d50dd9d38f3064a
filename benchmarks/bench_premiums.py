"""Premiums benchmark (issue 12): 本算定 of a municipality's households for a fiscal year, read
from SQLite and from PostgreSQL, against a bare scan of the same inputs in the same run.

    .venv/bin/python benchmarks/bench_premiums.py [--households 1000000] [--sample 5000]
        [--databases sqlite,postgresql] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Input: ``--households`` synthetic households of 国保 shapes (about 2.3 members a row each,
heads and spouses mostly 65–74 with 公的年金, many low or no incomes, a few 擬制世帯主,
特定同一世帯所属者, 特定世帯, 旧被扶養者, 非自発的失業, 産前産後, mid-year acquisitions and
losses), priced under the shipped FY2023 rules of 高松市 (372013). They are stored in the
benchmark's own two tables (``bench_members``, ``bench_households``: the columns of
``kokuho.premiums.MEMBERS_SCHEMA`` and ``HOUSEHOLDS_SCHEMA``, dates as day numbers in SQLite
and ``date`` in PostgreSQL); the reader here stands for the households/incomes tables of the
households module.

- **scan**: read both tables into Arrow (SQLite: CSV lines built by SQLite, parsed by
  ``pyarrow.csv``; PostgreSQL:
  ``COPY … TO STDOUT (FORMAT csv)`` parsed by ``pyarrow.csv``): what any assessment must read.
- **assess**: the same read, then ``assess_table`` (the columnar 本算定) of every household.
- **engine**: the per-household engine ``assess(…, with_reasons=False)`` on ``--sample``
  households already in memory (its rate, to show the ratio).

Prints and writes JSON to benchmarks/out/premiums.json (``--out``).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from kokuho.premiums import (
    HOUSEHOLDS_SCHEMA,
    MEMBERS_SCHEMA,
    assess,
    assess_table,
    load_premium_rules,
)
from kokuho.premiums._assess_columnar_tables import household_input

try:  # run as a script (benchmarks/ on sys.path) or as a module of the benchmarks package
    from benchmarks._machine import machine
except ImportError:
    from _machine import machine  # type: ignore[no-redef]

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


# -- SQLite ------------------------------------------------------------------------------------


def _types(schema: pa.Schema) -> list[str]:
    return ["INTEGER" if not pa.types.is_date32(f.type) else "INTEGER" for f in schema]


def _rows(table: pa.Table) -> Any:
    columns = []
    for column in table.columns:
        if pa.types.is_date32(column.type):
            column = column.cast(pa.int32())
        elif pa.types.is_boolean(column.type):
            column = column.cast(pa.int8())
        columns.append(column.to_pylist())
    return zip(*columns, strict=True)


def sqlite_store(path: Path, members: pa.Table, households: pa.Table) -> None:
    with sqlite3.connect(path) as db:
        for name, table in (("bench_members", members), ("bench_households", households)):
            columns = ", ".join(f"{f.name} INTEGER" for f in table.schema)
            db.execute(f"CREATE TABLE {name} ({columns})")
            marks = ", ".join("?" * table.num_columns)
            db.executemany(f"INSERT INTO {name} VALUES ({marks})", _rows(table))


def sqlite_read(path: Path) -> tuple[pa.Table, pa.Table]:
    """Both tables into Arrow: SQLite writes CSV lines itself (``group_concat`` over rowid
    ranges, in C, two connections in threads: ``sqlite3`` releases the GIL while SQLite
    steps) and ``pyarrow.csv`` parses them; 1.6 times the rate of ``fetchall`` alone."""
    return (
        _sqlite_table(path, "bench_members", MEMBERS_SCHEMA),
        _sqlite_table(path, "bench_households", HOUSEHOLDS_SCHEMA),
    )


def _sqlite_block(path: Path, name: str, line: str, low: int) -> bytes:
    with closing(sqlite3.connect(path, check_same_thread=False)) as db:
        (text,) = db.execute(
            f"SELECT group_concat({line}, char(10)) FROM {name} WHERE rowid > ? AND rowid <= ?",
            (low, low + _SQLITE_ROWS),
        ).fetchone()
    return text.encode() if text else b""


def _sqlite_table(path: Path, name: str, schema: pa.Schema) -> pa.Table:
    names = [f.name for f in schema]
    line = "||','||".join(f"ifnull({n}, '')" for n in names)
    with closing(sqlite3.connect(path)) as db:
        last = db.execute(f"SELECT ifnull(max(rowid), 0) FROM {name}").fetchone()[0]
    with ThreadPoolExecutor(2) as pool:
        blocks = list(
            pool.map(partial(_sqlite_block, path, name, line), range(0, last + 1, _SQLITE_ROWS))
        )
    stored = {
        f.name: pa.int32()
        if pa.types.is_date32(f.type)
        else pa.int8()
        if pa.types.is_boolean(f.type)
        else pa.int64()
        for f in schema
    }
    table = pacsv.read_csv(
        pa.py_buffer(b"\n".join(b for b in blocks if b)),
        read_options=pacsv.ReadOptions(column_names=names),
        convert_options=pacsv.ConvertOptions(column_types=stored),
    )
    wanted = [pa.field(f.name, pa.int64() if f.name == "household_id" else f.type) for f in schema]
    return table.cast(pa.schema(wanted))


_SQLITE_ROWS = 100_000


# -- PostgreSQL --------------------------------------------------------------------------------


def _pg_type(field: pa.Field) -> str:
    if pa.types.is_date32(field.type):
        return "date"
    if pa.types.is_boolean(field.type):
        return "boolean"
    return "bigint"


def pg_store(dsn: str, schema_name: str, members: pa.Table, households: pa.Table) -> None:
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{schema_name}"')
        for name, table in (("bench_members", members), ("bench_households", households)):
            columns = ", ".join(f"{f.name} {_pg_type(f)}" for f in table.schema)
            db.execute(f'CREATE TABLE "{schema_name}".{name} ({columns})')
            buffer = io.BytesIO()
            pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
            with db.cursor().copy(f'COPY "{schema_name}".{name} FROM STDIN (FORMAT csv)') as copy:
                copy.write(buffer.getvalue())


def pg_read(dsn: str, schema_name: str) -> tuple[pa.Table, pa.Table]:
    """Both tables into Arrow: ``COPY … TO STDOUT (FORMAT csv)`` parsed by ``pyarrow.csv``."""
    with psycopg.connect(dsn) as db:
        return (
            _pg_table(db, schema_name, "bench_members", MEMBERS_SCHEMA),
            _pg_table(db, schema_name, "bench_households", HOUSEHOLDS_SCHEMA),
        )


def _pg_table(
    db: psycopg.Connection[Any], schema_name: str, name: str, schema: pa.Schema
) -> pa.Table:
    names = [f.name for f in schema]
    buffer = bytearray()
    sql = f'COPY (SELECT {", ".join(names)} FROM "{schema_name}".{name}) TO STDOUT (FORMAT csv)'
    with db.cursor().copy(sql) as copy:
        for block in copy:
            buffer += block
    types = {f.name: (pa.int64() if f.name == "household_id" else f.type) for f in schema}
    return pacsv.read_csv(
        pa.py_buffer(bytes(buffer)),
        read_options=pacsv.ReadOptions(column_names=names),
        convert_options=pacsv.ConvertOptions(
            column_types=types, true_values=["t"], false_values=["f"]
        ),
    )


def pg_drop(dsn: str, schema_name: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')


# -- measuring ---------------------------------------------------------------------------------


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def measure(
    name: str, read: Callable[[], tuple[pa.Table, pa.Table]], households: int, rules: Any
) -> dict[str, Any]:
    scan, _ = _timed(read)

    def read_and_assess() -> pa.Table:
        members, house = read()
        return assess_table(members, house, rules)

    both, result = _timed(read_and_assess)
    fallback = int(np.sum(result.column("engine").to_numpy(zero_copy_only=False) != "columnar"))
    figures = {
        "scan_seconds": round(scan, 3),
        "scan_households_per_second": round(households / scan),
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
    chosen = args.databases.split(",")
    if "sqlite" in chosen:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "premiums.sqlite"
            seconds, _ = _timed(lambda: sqlite_store(path, members, households))
            print(f"sqlite: stored in {seconds:.1f}s", flush=True)
            report["sqlite"] = measure("sqlite", lambda: sqlite_read(path), args.households, rules)
    if "postgresql" in chosen:
        dsn = args.postgres.replace("postgresql+psycopg://", "postgresql://")
        schema_name = f"bench_premiums_{uuid.uuid4().hex[:8]}"
        try:
            seconds, _ = _timed(lambda: pg_store(dsn, schema_name, members, households))
            print(f"postgresql: stored in {seconds:.1f}s", flush=True)
            report["postgresql"] = measure(
                "postgresql", lambda: pg_read(dsn, schema_name), args.households, rules
            )
        finally:
            pg_drop(dsn, schema_name)
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
