"""Register benchmarks (issue 2): bulk import rate, point look-up latency, bytes per person.

    .venv/bin/python benchmarks/bench_register.py [--import-persons 1000000]
        [--lookup-sizes 1000000,10000000] [--backends sqlite,postgres]

Import: the synthetic prefecture (`kokuho.synth`) at --import-persons, every change file loaded
through `import_feed` (runs of files in one transaction); baseline in the same run: reading and
splitting the same bytes with the csv module; and the storage floor: the rows the import wrote
(persons, coverages, terms, applied events, files) written again into an empty database of the
same schema, in one transaction, through the import's own bulk writer (executemany on SQLite,
COPY on PostgreSQL): no parsing, no look-ups, no decisions, so no import of this schema can be
faster on the machine (ratio_to_storage_floor). --compare-per-file also loads the feed file by
file through `import_changes` into a second database first, in the same run (ratio_to_per_file).
Look-up: registers of 1 M and 10 M persons written in bulk, then random point look-ups by
insured-number tuple (the indexed query the eligibility check uses, and the full `show`),
p50/p99 in µs. Bytes per person: database size ÷ persons. Writes
benchmarks/out/register.json and prints the figures.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.ids import InsuredId
from kokuho.registry import import_changes, import_feed, load_insurers, show
from kokuho.registry import tables as t
from kokuho.store import connect

try:  # run as a script (benchmarks/ on sys.path) or as benchmarks.bench_register
    from benchmarks._fill import fill as _fill
except ImportError:
    from _fill import fill as _fill  # type: ignore[no-redef]

POSTGRES = os.environ.get(
    "KOKUHO_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
OUT = Path(__file__).parent / "out"


def _database(backend: str, name: str, workdir: Path) -> tuple[str, sa.Engine]:
    if backend == "sqlite":
        url = f"sqlite:///{workdir / (name + '.db')}"
    else:
        admin = sa.create_engine(POSTGRES)
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        admin.dispose()
        url = f"{POSTGRES}?options=-csearch_path%3D{name}"
    return url, connect(url)


def _size_bytes(engine: sa.Engine, url: str, name: str) -> int:
    if engine.dialect.name == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size
    with engine.connect() as connection:
        return int(
            connection.scalar(
                sa.text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :schema AND c.relkind = 'r'"
                ),
                {"schema": name},
            )
            or 0
        )


def bench_import(
    persons: int, backends: list[str], workdir: Path, compare: bool = False
) -> dict[str, Any]:
    from kokuho.synth import generate

    data = workdir / "synth"
    started = time.perf_counter()
    generate(
        data,
        seed=1,
        persons=persons,
        start=dt.date(2020, 4, 1),
        years=3,
        checkups=False,
        claims=False,
    )
    synth_seconds = time.perf_counter() - started
    files = sorted((data / "changes").rglob("*.csv"), key=lambda p: (_month(p), str(p)))
    rows = 0
    started = time.perf_counter()
    for path in files:
        with path.open(encoding="utf-8", newline="") as handle:
            rows += sum(1 for _ in csv.reader(handle)) - 1
    baseline = time.perf_counter() - started
    result: dict[str, Any] = {
        "persons": persons,
        "files": len(files),
        "rows": rows,
        "synth_seconds": round(synth_seconds, 1),
        "baseline_csv_seconds": round(baseline, 2),
        "baseline_rows_per_s": round(rows / baseline),
    }
    for backend in backends:
        paths = ("per_file", "feed") if compare else ("feed",)
        for way in paths:
            name = f"bench_import_{way}" if compare else "bench_import"
            url, engine = _database(backend, name, workdir)
            load_insurers(engine, data / "insurers.csv")
            started = time.perf_counter()
            applied = 0
            if way == "feed":
                for report in import_feed(engine, files):
                    applied += report.applied
            else:
                for path in files:
                    applied += import_changes(engine, path).applied
            seconds = time.perf_counter() - started
            with engine.connect() as connection:
                stored = connection.scalar(sa.select(sa.func.count()).select_from(t.persons)) or 0
            run = {
                "seconds": round(seconds, 2),
                "records_per_s": round(applied / seconds),
                "ratio_to_csv_baseline": round((applied / seconds) / (rows / baseline), 3),
                "applied": applied,
                "persons_stored": stored,
                "bytes_per_person": round(_size_bytes(engine, url, name) / stored),
            }
            if way == "feed":
                run.update(_storage_floor(engine, backend, workdir, data, applied))
            engine.dispose()
            if way == "feed":
                result[backend] = {**result.get(backend, {}), **run}
            else:
                result[backend] = {"per_file_import_changes": run}
        result[backend]["ratio_to_storage_floor"] = round(
            result[backend]["records_per_s"] / result[backend]["storage_floor_records_per_s"], 3
        )
        if compare:
            old = result[backend]["per_file_import_changes"]
            result[backend]["ratio_to_per_file"] = round(
                result[backend]["records_per_s"] / old["records_per_s"], 2
            )
        print(f"import {backend}: {result[backend]}", flush=True)
    return result


#: The import's tables in the order their foreign keys allow.
_WRITTEN = ("feed_files", "persons", "coverages", "coverage_terms", "feed_events")


def _storage_floor(
    imported: sa.Engine, backend: str, workdir: Path, data: Path, applied: int
) -> dict[str, Any]:
    """The rows ``imported`` holds, written again into an empty schema (see the docstring)."""
    from kokuho.store import bulk_insert, metadata

    tables = {name: metadata.tables[name] for name in _WRITTEN}
    with imported.connect() as connection:
        rows = {
            name: [tuple(row) for row in connection.execute(sa.select(table))]
            for name, table in tables.items()
        }
    _, floor = _database(backend, "bench_import_floor", workdir)
    load_insurers(floor, data / "insurers.csv")
    started, cpu = time.perf_counter(), time.process_time()
    with floor.begin() as connection:
        for name, table in tables.items():
            bulk_insert(connection, table, [c.name for c in table.columns], rows[name])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    floor.dispose()
    return {
        "storage_floor_seconds": round(seconds, 2),
        "storage_floor_client_cpu_seconds": round(cpu, 2),
        "storage_floor_records_per_s": round(applied / seconds),
        "storage_floor_rows_written": sum(len(r) for r in rows.values()),
    }


def _month(path: Path) -> str:
    import re

    match = re.search(r"(\d{4}-\d{2})", str(path))
    return match.group(1) if match else ""


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[int(len(ordered) * 0.99)] * 1e6, 1),
    }


def bench_lookup(size: int, backend: str, workdir: Path, probes: int) -> dict[str, Any]:
    name = f"bench_lookup_{size}"
    url, engine = _database(backend, name, workdir)
    started = time.perf_counter()
    _fill(engine, size, seed=size)
    fill_seconds = time.perf_counter() - started
    insurers = ["370015", "01370014", "06370015", "39370013"]
    rng = random.Random(7)
    wanted = [rng.randrange(1, size + 1) for _ in range(probes)]
    c = t.coverages.c
    query = sa.select(c.coverage_id, c.person_id, c.acquired_on, c.lost_on).where(
        c.insurer_number == sa.bindparam("i"), c.symbol == sa.bindparam("s"),
        c.number == sa.bindparam("n"), c.branch == sa.bindparam("b"),
    )  # fmt: skip
    point: list[float] = []
    full: list[float] = []
    with engine.connect() as connection:
        for pid in wanted:
            params = {"i": insurers[pid % 4], "s": str(pid // 100), "n": str(pid), "b": "01"}
            started = time.perf_counter()
            row = connection.execute(query, params).first()
            point.append(time.perf_counter() - started)
            assert row is not None and row.person_id == pid
    for pid in wanted[: probes // 4]:
        insured = InsuredId(insurers[pid % 4], str(pid // 100), str(pid), "01")
        started = time.perf_counter()
        record = show(engine, insured)
        full.append(time.perf_counter() - started)
        assert record is not None and record.person_id == pid
    result = {
        "persons": size,
        "fill_seconds": round(fill_seconds, 1),
        "indexed_lookup": _percentiles(point),
        "show": _percentiles(full),
        "bytes_per_person": round(_size_bytes(engine, url, name) / size),
    }
    print(f"lookup {backend} {size}: {result}", flush=True)
    engine.dispose()
    if backend == "sqlite":
        Path(url.removeprefix("sqlite:///")).unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--import-persons", type=int, default=1_000_000)
    parser.add_argument("--lookup-sizes", default="1000000,10000000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--probes", type=int, default=20_000)
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument(
        "--compare-per-file",
        action="store_true",
        help="also import file by file (import_changes) into a second database, same run",
    )
    parser.add_argument("--out", type=Path, default=OUT / "register.json")
    args = parser.parse_args()
    backends = args.backends.split(",")
    machine = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    results: dict[str, Any] = {"machine": machine, "lookup": {}}
    with tempfile.TemporaryDirectory(dir=os.environ.get("KOKUHO_BENCH_DIR")) as tmp:
        workdir = Path(tmp)
        if not args.skip_import:
            results["import"] = bench_import(
                args.import_persons, backends, workdir, args.compare_per_file
            )
        for backend in backends:
            sizes = [int(s) for s in args.lookup_sizes.split(",") if s]
            results["lookup"][backend] = [
                bench_lookup(size, backend, workdir, args.probes) for size in sizes
            ]
            runs = results["lookup"][backend]
            if len(runs) > 1:
                results["lookup"][backend + "_flatness_p50_ratio"] = round(
                    runs[-1]["indexed_lookup"]["p50_us"] / runs[0]["indexed_lookup"]["p50_us"], 2
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
