"""Checkup benchmarks (issue 4): V08 ingest rate, and stratification + rates over N checkups.

    .venv/bin/python benchmarks/bench_checkups.py [--documents 5000] [--checkups 10000000]

Ingest: an archive of ``--documents`` synthetic 特定健診 documents written by the V08 writer;
``read_archive`` (unzip, safety checks, parse, validate, build objects; half of the documents
in a forked child) and the lake's ``ingest_archive`` in documents/s, against two baselines of
the same run, round by round (``--rounds``, medians): bare ``lxml.etree.fromstring`` of the
same document bytes, and the one-process read (``read_archive(parallel=False)``).

Analytics: ``--checkups`` checkup rows and a register snapshot of ``--checkups / 0.4`` members
(participation ≈ 40 %) in Parquet; 階層化 + メタボ判定 (``stratify_table``, ``metabolic_table``)
and the 特定健診 and 特定保健指導 rates by insurer (``rate_tables``: both from one match; then,
as the same run's reference, ``checkup_rate_table`` and ``guidance_rate_table``, whose results
must be equal), all Ibis on DuckDB, against the baseline of the same run: a bare scan of the
same Parquet columns. Writes benchmarks/out/checkups.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from lxml import etree

from kokuho.checkups import Checkup, Items, Lake, Observation, read_archive, write_archive
from kokuho.ids import with_check_digit

OUT = Path(__file__).parent / "out"
FY = 2022
INSURERS = [with_check_digit(f"37{n:03d}") for n in range(1, 18)] + ["01370014"]


def _documents(count: int, seed: int) -> list[Checkup]:
    rng = np.random.default_rng(seed)
    sex = rng.integers(1, 3, count)
    age = rng.integers(40, 75, count)
    waist = rng.normal(np.where(sex == 1, 85, 80), 9)
    sbp = rng.normal(120 + (age - 40) * 0.6, 15)
    out = []
    for n in range(count):
        values = {
            Items.WAIST[0]: ("PQ", f"{waist[n]:.1f}", "cm"),
            Items.BMI[0]: ("PQ", f"{rng.normal(23, 3.5):.1f}", "kg/m2"),
            Items.SBP[0]: ("PQ", f"{sbp[n]:.0f}", "mmHg"),
            Items.DBP[0]: ("PQ", f"{sbp[n] * 0.62:.0f}", "mmHg"),
            Items.TG_FASTING[0]: ("PQ", f"{rng.lognormal(4.7, 0.5):.0f}", "mg/dL"),
            Items.HDL[0]: ("PQ", f"{rng.normal(60, 15):.0f}", "mg/dL"),
            Items.LDL[0]: ("PQ", f"{rng.normal(120, 30):.0f}", "mg/dL"),
            Items.GLUCOSE_FASTING[0]: ("PQ", f"{rng.normal(98, 15):.0f}", "mg/dL"),
            Items.HBA1C[0]: ("PQ", f"{rng.normal(5.6, 0.5):.1f}", "%"),
            Items.EGFR[0]: ("PQ", f"{rng.normal(75, 15):.1f}", "mL/min/1.73m2"),
        }
        observations = {
            code: Observation(code, kind, value, unit)
            for code, (kind, value, unit) in values.items()
        }
        for items, answer in (
            (Items.MEDICATION_BP, "2"),
            (Items.MEDICATION_GLUCOSE, "2"),
            (Items.MEDICATION_LIPID, "2"),
            (Items.SMOKING, "3"),
            (Items.BLOOD_DRAW_TIMING, "2"),
        ):
            observations[items[0]] = Observation(
                items[0], "CO", answer, None, "1.2.392.200119.6.2003"
            )
        out.append(
            Checkup(
                document="",
                insurer="01370014",
                symbol="1234",
                number=f"{n:07d}",
                branch="00",
                sex=int(sex[n]),
                birth_date=dt.date(FY - int(age[n]), 6, 1),
                exam_date=dt.date(FY, 9, 1),
                institution="3710000012",
                observations=observations,
            )
        )
    return out


def bench_ingest(documents: int, work: Path, rounds: int = 3) -> dict[str, Any]:
    started = time.perf_counter()
    archive = write_archive(
        work / "archives",
        sender="3710000012",
        receiver="01370014",
        checkups=_documents(documents, 1),
        created=dt.datetime(2022, 10, 1),
    )
    written = time.perf_counter() - started
    with zipfile.ZipFile(archive) as zipped:
        payloads = [zipped.read(n) for n in zipped.namelist() if "/DATA/h" in n]
    # Per round, back to back: the bare parse, then the one-process read (the old path,
    # read_archive(parallel=False)) and the default read (half the documents in a forked
    # child), each followed by the lake's ingest into a lake of its own. Medians of the rounds.
    times: dict[str, list[float]] = {
        "bare": [],
        "one_read": [],
        "one_ingest": [],
        "read": [],
        "ingest": [],
        "one_cpu": [],
        "cpu": [],
    }
    forked = 0
    for round_ in range(rounds):
        started = time.perf_counter()
        for payload in payloads:
            etree.fromstring(payload)
        times["bare"].append(time.perf_counter() - started)
        for parallel, prefix in ((False, "one_"), (True, "")):
            cpu = _cpu_seconds()
            children = os.times().children_user
            started = time.perf_counter()
            contents = read_archive(archive, parallel=parallel)
            read = time.perf_counter() - started
            lake = Lake(work / f"lake-{round_}-{prefix}")
            started = time.perf_counter()
            report = lake.ingest_archive(contents)
            times[f"{prefix}ingest"].append(time.perf_counter() - started)
            times[f"{prefix}read"].append(read)
            times[f"{prefix}cpu"].append(_cpu_seconds() - cpu)
            if parallel:
                # read_archive forks only when the load average leaves a CPU idle.
                forked += os.times().children_user > children

            assert report.checkups == documents
    median = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "documents": documents,
        "rounds": rounds,
        "archive_bytes": archive.stat().st_size,
        "write_seconds": round(written, 2),
        "bare_parse_docs_per_s": round(documents / median["bare"]),
        "read_archive_docs_per_s": round(documents / median["read"]),
        "read_plus_lake_docs_per_s": round(documents / (median["read"] + median["ingest"])),
        "ratio_read_to_bare_parse": round(median["bare"] / median["read"], 3),
        "one_process_read_archive_docs_per_s": round(documents / median["one_read"]),
        "one_process_read_plus_lake_docs_per_s": round(
            documents / (median["one_read"] + median["one_ingest"])
        ),
        "ratio_one_process_read_to_bare_parse": round(median["bare"] / median["one_read"], 3),
        "ratio_read_plus_lake_to_one_process": round(
            (median["one_read"] + median["one_ingest"]) / (median["read"] + median["ingest"]), 2
        ),
        "read_plus_lake_cpu_seconds_both_processes": round(median["cpu"], 3),
        "one_process_read_plus_lake_cpu_seconds": round(median["one_cpu"], 3),
        "rounds_forked": forked,
        "load_average": round(os.getloadavg()[0], 2),
    }
    print(f"ingest: {result}", flush=True)
    return result


def _cpu_seconds() -> float:
    """CPU seconds of this process and its ended children (the forked reader)."""
    used = os.times()
    return used.user + used.system + used.children_user + used.children_system


def _tables(checkups: int, work: Path) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(7)
    members = int(checkups / 0.4)
    person = np.arange(members, dtype=np.int64)
    insurer_index = rng.integers(0, len(INSURERS), members)
    sex = rng.integers(1, 3, members).astype(np.int16)
    age = rng.integers(40, 75, members)
    birth = (
        np.datetime64(f"{FY + 1}-03-31")
        - (age * 365.25 + rng.integers(1, 360, members)).astype("timedelta64[D]")
    ).astype("datetime64[D]")
    numbers = pa.array(np.char.mod("%08d", person))
    insurers = pa.array(INSURERS).take(pa.array(insurer_index))
    snapshot = pa.table(
        {
            "person_id": person,
            "insurer_number": insurers,
            "insurer_kind": pa.array(np.where(insurer_index < 17, "kokuho_municipal", "kyokai")),
            "municipality_code": pa.array(np.where(insurer_index < 17, "372013", None)),
            "symbol": pa.array(np.full(members, "1")),
            "number": numbers,
            "branch": pa.array(np.full(members, "01")),
            "sex": sex,
            "birth_date": pa.array(birth),
            "acquired_on": pa.array(np.full(members, np.datetime64("2015-04-01"))),
            "lost_on": pa.nulls(members, pa.date32()),
            # As export_snapshot numbers the insured numbers: one per person here, since every
            # person holds an insured number of their own (the 番号 is the person's index).
            "insured_id": person,
        }
    )
    take = rng.permutation(members)[:checkups]
    n = checkups
    s = sex[take]
    a = age[take]
    waist = rng.normal(np.where(s == 1, 85, 80), 9)
    sbp = rng.normal(120 + (a - 40) * 0.6, 15)
    level = pa.array(rng.choice([1, 2, 3], n, p=[0.06, 0.11, 0.83]).astype(np.int8))
    cks = pa.table(
        {
            "document": pa.array(np.char.mod("h%09d.xml", np.arange(n))),
            "insurer": insurers.take(pa.array(take)),
            "symbol": pa.array(np.full(n, "1")),
            "number": numbers.take(pa.array(take)),
            "branch": pa.array(np.full(n, "01")),
            "sex": s.astype(np.int8),
            "birth_date": pa.array(birth[take]),
            "exam_date": pa.array(
                np.datetime64(f"{FY}-06-01") + rng.integers(0, 200, n).astype("timedelta64[D]")
            ),
            "fiscal_year": np.full(n, FY, dtype=np.int16),
            "institution": pa.array(np.full(n, "3710000012")),
            "age": a.astype(np.int16),
            "waist": waist,
            "bmi": rng.normal(23, 3.5, n),
            "visceral_fat_area": pa.nulls(n, pa.float64()),
            "sbp": sbp,
            "dbp": sbp * 0.62,
            "tg_fasting": rng.lognormal(4.7, 0.5, n),
            "tg_random": pa.nulls(n, pa.float64()),
            "hdl": rng.normal(60, 15, n),
            "glucose_fasting": rng.normal(98, 15, n),
            "glucose_random": pa.nulls(n, pa.float64()),
            "hba1c": rng.normal(5.6, 0.5, n),
            "blood_draw_timing": pa.array(np.full(n, "2")),
            "med_bp": rng.random(n) < 0.2,
            "med_glucose": rng.random(n) < 0.06,
            "med_lipid": rng.random(n) < 0.12,
            "smoking": pa.array(np.where(rng.random(n) < 0.18, "1", "3")),
            "reported_metabolic": pa.array(rng.integers(1, 4, n).astype(np.int8)),
            "reported_level": level,
        }
    )
    started_guidance = rng.random(n) < 0.05
    g = int(started_guidance.sum())
    guidance = pa.table(
        {
            "insurer": cks["insurer"].filter(pa.array(started_guidance)),
            "symbol": pa.array(np.full(g, "1")),
            "number": cks["number"].filter(pa.array(started_guidance)),
            "branch": pa.array(np.full(g, "01")),
            "sex": s[started_guidance].astype(np.int8),
            "birth_date": pa.array(birth[take][started_guidance]),
            "institution": pa.array(np.full(g, "3710000012")),
            "level": pa.array(np.full(g, 2, dtype=np.int8)),
            "started_on": pa.array(np.full(g, np.datetime64(f"{FY}-12-01"))),
            "evaluated_on": pa.array(np.full(g, np.datetime64(f"{FY + 1}-06-01"))),
            "fiscal_year": np.full(g, FY, dtype=np.int16),
        }
    )
    paths = (work / "snapshot.parquet", work / "checkups.parquet", work / "guidance.parquet")
    for table, path in zip((snapshot, cks, guidance), paths, strict=True):
        pq.write_table(table, path)
    return paths


def bench_analytics(checkups: int, work: Path) -> dict[str, Any]:
    import ibis

    from kokuho.checkups import metabolic_table, stratify_table
    from kokuho.checkups._rate_pair import rate_tables
    from kokuho.checkups._rates import checkup_rate_table, guidance_rate_table

    started = time.perf_counter()
    snapshot_path, checkups_path, guidance_path = _tables(checkups, work)
    generated = time.perf_counter() - started
    con = ibis.duckdb.connect()
    snapshot = con.read_parquet(snapshot_path)
    rows = con.read_parquet(checkups_path)
    guidance = con.read_parquet(guidance_path)
    used = [
        "sex",
        "age",
        "waist",
        "bmi",
        "sbp",
        "dbp",
        "tg_fasting",
        "hdl",
        "glucose_fasting",
        "hba1c",
        "med_bp",
        "med_glucose",
        "med_lipid",
        "smoking",
    ]
    started = time.perf_counter()
    # Means read every value; counts alone are answered from the Parquet metadata.
    numeric = [c for c in used if c not in ("smoking",)]
    scan = rows.aggregate(
        n=rows.count(), **{c: rows[c].cast("float64").mean() for c in numeric}
    ).to_pyarrow()
    baseline = time.perf_counter() - started
    assert scan["n"][0].as_py() == checkups
    started = time.perf_counter()
    judged = metabolic_table(stratify_table(rows, term=3))
    levels = judged.group_by("level").aggregate(n=judged.count()).to_pyarrow()
    stratified = time.perf_counter() - started
    # Process CPU seconds beside the wall time: on a shared machine the wall time mostly
    # measures the other jobs, the CPU time the work.
    load_before = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    checkup_table, guidance_table = rate_tables(snapshot, judged, guidance, FY)
    checkup, guided = checkup_table.to_pyarrow(), guidance_table.to_pyarrow()
    rates, rates_cpu = time.perf_counter() - started, time.process_time() - cpu
    # The reference path in the same run: the two functions, each with its own match.
    started, cpu = time.perf_counter(), time.process_time()
    separate = (
        checkup_rate_table(snapshot, judged, FY).to_pyarrow(),
        guidance_rate_table(snapshot, judged, guidance, FY).to_pyarrow(),
    )
    rates_separate = time.perf_counter() - started
    rates_separate_cpu = time.process_time() - cpu
    assert separate == (checkup, guided), "rate_tables differs from the reference functions"
    result = {
        "checkups": checkups,
        "members": snapshot.count().to_pyarrow().as_py(),
        "generate_seconds": round(generated, 1),
        "baseline_scan_seconds": round(baseline, 2),
        "stratify_and_metabolic_seconds": round(stratified, 2),
        "rates_seconds": round(rates, 2),
        "rates_cpu_seconds": round(rates_cpu, 2),
        "rates_separate_seconds": round(rates_separate, 2),
        "rates_separate_cpu_seconds": round(rates_separate_cpu, 2),
        "load_average_before_rates": round(load_before, 2),
        "load_average_after_rates": round(os.getloadavg()[0], 2),
        "ratio_separate_to_rates": round(rates_separate / rates, 2),
        "total_seconds": round(stratified + rates, 2),
        "ratio_total_to_scan": round((stratified + rates) / baseline, 1),
        "levels": {str(r["level"]): r["n"] for r in levels.to_pylist()},
        "insurers": checkup.num_rows,
        "guidance_rows": guided.num_rows,
    }
    print(f"analytics: {result}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--checkups", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="ingest rounds (medians)")
    parser.add_argument(
        "--fork-when-busy",
        action="store_true",
        help="read half of the archive in a forked child even when no CPU is idle",
    )
    parser.add_argument("--out", type=Path, default=OUT / "checkups.json")
    args = parser.parse_args()
    if args.fork_when_busy:
        from kokuho.checkups import _v08_documents

        _v08_documents.REQUIRE_IDLE_CPU = False
    results: dict[str, Any] = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    }
    with tempfile.TemporaryDirectory(dir=os.environ.get("KOKUHO_BENCH_DIR")) as tmp:
        work = Path(tmp)
        if args.documents:
            results["ingest"] = bench_ingest(args.documents, work, args.rounds)
        if args.checkups:
            results["analytics"] = bench_analytics(args.checkups, work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
