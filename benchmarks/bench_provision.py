"""Provision benchmark (issue 14): a linked 医療–介護 extract with safe release, on DuckDB and on
Spark local, against a bare Parquet scan of the same files in the same run.

    .venv/bin/python benchmarks/bench_provision.py [--sizes 5:1,50:10] [--engines duckdb,spark]

For each size (millions of 医療 claim lines : millions of 介護 明細 lines) it writes synthetic
Parquet (vectorised numpy/pyarrow, not the full synthetic prefecture: one line per claim and
month with the source-side ID2 each source computes at ingest) and then, per engine, times:

- **bare scan**: read every line of both tables and sum a column (the floor any query pays);
- **linked extract**: per person on each side (distinct ID2: 医療 points, 介護 units, the
  person's 生年月日, 性別, 市区町村), the 医療–介護 join on ID2, age generalised to 5-year bands
  on the period's last day with the top band pooled (``age_bands``), the linked persons pulled
  to Python, re-keyed under a fresh provision key (:func:`kokuho.provision.rekey`, one HMAC a
  person) and written as the extract's Parquet, with the generalised birth 年月 and the
  municipality only;
- **safe release**: persons per (5-year band × 市区町村) counted from the extract by
  :func:`kokuho.provision.count_persons` (each re-keyed person in one cell), then
  :func:`kokuho.provision.suppress` (cells 1–9 hidden, plus secondary suppression).

Each size also records whether the engines released the same table, cell by cell
(``engines_agree``). Prints and writes JSON to benchmarks/out/provision.json (``--out``);
the Parquet is written under ``--folder`` (default: a temporary folder, removed at the
end). Spark runs on ``local[2]`` with a 4 GB driver; memory stays bounded because the lines
are generated and written in 5 M-line chunks and every query aggregates before anything
reaches Python (the extract is one row per linked person).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kokuho.provision import (
    CountTable,
    age_bands,
    count_persons,
    new_provision_key,
    rekey,
    suppress,
)
from kokuho.store import Analytics

try:  # run as a script (benchmarks/ on sys.path) or as a module of the benchmarks package
    from benchmarks._machine import machine
except ImportError:
    from _machine import machine  # type: ignore[no-redef]

OUT = Path(__file__).parent / "out"
CHUNK = 5_000_000
LINES_PER_PERSON = 50  # 医療 lines a person over the 12 months (claims × their lines)
CARE_LINES_PER_PERSON = 50
MONTHS = [f"2023-{m:02d}" for m in range(4, 13)] + [f"2024-{m:02d}" for m in range(1, 4)]
PERIOD_END = dt.date(2024, 3, 31)
MUNICIPALITIES = [f"37{n:03d}0" for n in range(1, 18)]  # 17 synthetic 市区町村 (5 digits + 0)
BANDS = age_bands()  # "0-4" … "95-99", "100+"
YOUNG_CARE = 15  # per mille of the 介護 persons aged 40–64 (第2号被保険者)
KANA_DIFFERS = 0.01  # care persons whose カナ differs: their ID2 does not link


def _persons(count: int, rng: np.random.Generator, source_key: bytes) -> dict[str, Any]:
    """The persons: ID2 (HMAC of a synthetic カナ, birth date and sex under the source key),
    birth dates (ages 0–104 at the period's end, older skewed), sex, municipality."""
    ages = np.minimum(rng.gamma(4.0, 12.0, count).astype(np.int32), 104)
    days = rng.integers(0, 365, count)
    born = np.datetime64(PERIOD_END) - (ages * 365.25).astype("timedelta64[D]") - days
    sex = rng.integers(1, 3, count).astype(np.int8)
    ids = [
        hmac.new(source_key, f"ID2\x1fカナ{i}\x1f{b}\x1f{s}".encode(), hashlib.sha256).hexdigest()
        for i, b, s in zip(range(count), born.astype(str), sex.tolist(), strict=True)
    ]
    return {
        "id2": pa.array(ids, pa.string()),
        "birth_date": born.astype("datetime64[D]"),
        "sex": sex,
        "municipality": rng.integers(0, len(MUNICIPALITIES), count),
        "age": ages,
    }


def _write_lines(
    folder: Path, lines: int, who: np.ndarray, people: dict[str, Any], value: str, high: int,
    rng: np.random.Generator, ids: pa.Array,
) -> None:  # fmt: skip
    """``lines`` lines of the persons ``who`` (indices into ``people``), in 5 M-line files
    sorted by person as a month's claims are, with ``value`` drawn from 1 to ``high``."""
    folder.mkdir(parents=True)
    municipalities = pa.array(MUNICIPALITIES, pa.string())
    months = pa.array(MONTHS, pa.string())
    for part, start in enumerate(range(0, lines, CHUNK)):
        size = min(CHUNK, lines - start)
        person = np.sort(rng.choice(who, size))
        columns: dict[str, Any] = {
            "id2": ids.take(pa.array(person)),
            "birth_date": pa.array(people["birth_date"][person], pa.date32()),
            "sex": pa.array(people["sex"][person], pa.int8()),
            "service_month": months.take(pa.array(rng.integers(0, len(MONTHS), size))),
            value: pa.array(rng.integers(1, high, size, dtype=np.int32)),
        }
        if value == "points":
            where = pa.array(people["municipality"][person])
            columns["municipality"] = municipalities.take(where)
        else:
            columns["service_type"] = pa.array(rng.integers(11, 80, size).astype(str))
        path = folder / f"part-{part:03d}.parquet"
        pq.write_table(pa.table(columns), path, row_group_size=1 << 20)


def generate(folder: Path, medical: int, care: int, seed: int) -> dict[str, Any]:
    """Writes ``claims/`` (``medical`` lines) and ``care/`` (``care`` lines) under ``folder``."""
    rng = np.random.default_rng(seed)
    source_key = rng.bytes(32)
    count = max(1, medical // LINES_PER_PERSON)
    people = _persons(count, rng, source_key)
    everyone = np.arange(count)
    # 介護: the 65+ with a chance rising with age, enough persons for ``care`` lines.
    # A few 第2号被保険者 (40–64, 特定疾病) give the small cells suppression is for.
    old = everyone[people["age"] >= 65]
    young = everyone[(people["age"] >= 40) & (people["age"] < 65)]
    wanted = min(len(old), max(1, care // CARE_LINES_PER_PERSON))
    weight = (people["age"][old] - 60).astype(np.float64) ** 2
    second = min(len(young), wanted * YOUNG_CARE // 1000)
    carers = np.sort(
        np.concatenate([
            rng.choice(old, wanted - second, replace=False, p=weight / weight.sum()),
            rng.choice(young, second, replace=False),
        ])
    )  # fmt: skip
    care_ids = people["id2"].to_pylist()
    for index in rng.choice(carers, int(len(carers) * KANA_DIFFERS), replace=False):
        care_ids[index] = hashlib.sha256(care_ids[index].encode()).hexdigest()
    _write_lines(folder / "claims", medical, everyone, people, "points", 2000, rng, people["id2"])
    _write_lines(
        folder / "care", care, carers, people, "service_units", 1000, rng,
        pa.array(care_ids, pa.string()),
    )  # fmt: skip
    return {"persons": count, "care_persons": int(len(carers))}


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return round(time.perf_counter() - start, 2), result


def _scan(table: Any, value: str, **more: Any) -> Any:
    """Every column the extract reads, read once with the cheapest aggregate of each."""
    return table.aggregate(
        lines=table.count(),
        ids=table.id2.length().sum(),
        born=table.birth_date.max(),
        sex=table.sex.sum(),
        total=table[value].sum(),
        **more,
    ).to_pyarrow()


def bare_scan(analytics: Analytics, folder: Path) -> dict[str, int]:
    """Both tables read once, the columns the extract needs: the floor of any query."""
    claims = analytics.read_parquet(sorted((folder / "claims").glob("*.parquet")))
    care = analytics.read_parquet(sorted((folder / "care").glob("*.parquet")))
    a = _scan(claims, "points", municipality=claims.municipality.max())
    b = _scan(care, "service_units")
    return {"claim_lines": a["lines"][0].as_py(), "care_lines": b["lines"][0].as_py()}


def _persons_of(table: Any, value: str, *extra: str) -> Any:
    """One row per ID2: the value summed, the person items (constant per person) taken once."""
    items = {c: table[c].min() for c in ("birth_date", "sex", *extra)}
    return table.group_by("id2").aggregate(total=table[value].sum(), **items)


def _band(birth: Any) -> Any:
    """The 5-year band index on the period's last day (年齢計算: the birthday's eve), top pooled."""
    eve = PERIOD_END + dt.timedelta(days=1)  # legal age on a day = full years on the next
    end = eve.year * 10000 + eve.month * 100 + eve.day
    born = birth.year() * 10000 + birth.month() * 100 + birth.day()
    age = (end - born) // 10000
    return (age // 5).clip(upper=len(BANDS) - 1)


def linked(analytics: Analytics, folder: Path, out: Path) -> dict[str, Any]:
    """The linked extract (re-keyed, generalised) and the safe release table."""
    claims = analytics.read_parquet(sorted((folder / "claims").glob("*.parquet")))
    care = analytics.read_parquet(sorted((folder / "care").glob("*.parquet")))
    medical = _persons_of(claims, "points", "municipality")
    caring = _persons_of(care, "service_units").select("id2", care_units="total")
    joined = medical.join(caring, "id2")
    person = joined.select(
        "id2",
        "municipality",
        "sex",
        "care_units",
        points="total",
        band=_band(joined.birth_date),
        birth_month=joined.birth_date.strftime("%Y-%m"),
    )
    timings: dict[str, float] = {}
    timings["extract_query_s"], rows = _timed(person.to_pyarrow)
    key = new_provision_key(f"bench-{time.time_ns()}", folder=out.parent / "keys")

    written_ids: list[str] = []

    def write() -> int:
        written_ids.extend(rekey(key, i) for i in rows["id2"].to_pylist())
        ids = pa.array(written_ids, pa.string())
        extract = rows.drop_columns(["id2"]).append_column("pid", ids)
        pq.write_table(extract, out)
        return rows.num_rows

    timings["rekey_write_s"], written = _timed(write)
    # 集計 from the extract itself: each person (re-keyed) in one cell, refused otherwise.
    bands = rows["band"].to_pylist()

    def count() -> CountTable:
        records = zip(written_ids, (BANDS[b] for b in bands), rows["municipality"].to_pylist(),
                      strict=True)  # fmt: skip
        return count_persons(records, BANDS, MUNICIPALITIES)

    timings["count_s"], table = _timed(count)
    timings["suppress_s"], safe = _timed(lambda: suppress(table))
    return {
        **timings,
        "linked_persons": written,
        "primary_suppressed": len(safe.primary),
        "secondary_suppressed": len(safe.secondary),
        # What is published, cell by cell (None = hidden): compared across engines.
        "released": [[safe.values[(i, j)] for j in range(-1, len(MUNICIPALITIES))]
                     for i in range(-1, len(BANDS))],
    }  # fmt: skip


def _spark_session() -> None:
    """Spark local[2] with a driver big enough for 50 M lines (the default is 1 GB); the
    kokuho backend then takes this session over."""
    from pyspark.sql import SparkSession

    (
        SparkSession.builder.master("local[2]")
        .appName("kokuho-bench-provision")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def run(engine: str, folder: Path) -> dict[str, Any]:
    if engine == "spark":
        _spark_session()
    analytics = Analytics(engine, master="local[2]")
    result: dict[str, Any] = {"engine": engine}
    # Start-up (the JVM, DuckDB's first connection) is not the queries' cost.
    result["start_s"], _ = _timed(lambda: analytics.backend.raw_sql("SELECT 1"))
    result["bare_scan_s"], result["scanned"] = _timed(lambda: bare_scan(analytics, folder))
    total, found = _timed(lambda: linked(analytics, folder, folder / f"extract-{engine}.parquet"))
    result.update(found, linked_total_s=total)
    result["ratio_to_bare"] = round(total / result["bare_scan_s"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="5:1,50:10", help="M claim lines:M care lines, …")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--folder", type=Path, help="where the Parquet goes (default: a temp)")
    parser.add_argument("--out", type=Path, default=OUT / "provision.json")
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": machine(), "runs": []}
    base = args.folder or Path(tempfile.mkdtemp(prefix="kokuho-bench-provision-"))
    try:
        for size in args.sizes.split(","):
            medical, care = (int(float(x) * 1_000_000) for x in size.split(":"))
            folder = base / f"m{medical}-c{care}"
            if folder.exists():
                shutil.rmtree(folder)
            start = time.perf_counter()
            made = generate(folder, medical, care, args.seed)
            seconds = round(time.perf_counter() - start, 2)
            mb = sum(f.stat().st_size for f in folder.rglob("*.parquet")) / 1e6
            entry: dict[str, Any] = {"claim_lines": medical, "care_lines": care, **made,
                                     "generate_s": seconds, "parquet_mb": round(mb)}  # fmt: skip
            print(json.dumps(entry), flush=True)
            for engine in args.engines.split(","):
                result = run(engine, folder)
                result["load_average"] = os.getloadavg()
                print(json.dumps({k: v for k, v in result.items() if k != "released"}), flush=True)
                entry.setdefault("engines", []).append(result)
            released = [json.dumps(e["released"]) for e in entry["engines"]]
            entry["engines_agree"] = len(set(released)) == 1
            print(json.dumps({"engines_agree": entry["engines_agree"]}), flush=True)
            report["runs"].append(entry)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")
            shutil.rmtree(folder)
    finally:
        if args.folder is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
