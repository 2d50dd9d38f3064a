"""Dependants' residency stage (issue 13, 被扶養者の国内居住要件): rows judged per second, and
what the residency columns add to ``kokuho registry import``'s pre-check.

    .venv/bin/python benchmarks/bench_dependants.py [--rows 100000]

Writes a change feed of ``--rows`` acquires (half 本人, half 家族 with the residency columns,
cycling through the exceptions, exclusions and a 住民票 in Japan), then times
``check_residency_file`` on it (the whole stage: CSV reading, validation, decision) and the
header-only test the import runs on a feed without those columns. CPU seconds are reported
beside wall seconds: the machine is shared. Prints and writes JSON to
benchmarks/out/dependants.json (``--out``).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

from kokuho.boundary import check_residency_file, feed_has_residency_columns, load_residency_rules

try:  # run as a script (benchmarks/ on sys.path) or as a module of the benchmarks package
    from benchmarks._machine import machine
except ImportError:
    from _machine import machine  # type: ignore[no-redef]

OUT = Path(__file__).parent / "out"
COLUMNS = [
    "event_id", "event", "effective_date", "insurer_number", "symbol", "number", "branch",
    "name_kanji", "name_kana", "birth_date", "sex", "address", "relationship", "copay_percent",
    "residence", "visa_status", "residency_exception", "exception_evidence", "exception_until",
]  # fmt: skip
CASES = [
    {"residence": "domestic"},
    {"residence": "domestic", "visa_status": "特定活動:25"},
    {"residence": "abroad"},
    {"residence": "abroad", "residency_exception": "1",
     "exception_evidence": "査証;学生証;在学証明書", "exception_until": "2024-03-31"},
    {"residence": "abroad", "residency_exception": "2", "exception_evidence": "査証"},
    {"residence": "abroad", "residency_exception": "4", "exception_evidence": "出生証明"},
    {"residence": "abroad", "residency_exception": "5"},
]  # fmt: skip


def write_feed(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for n in range(rows):
            row = {
                "event_id": f"E{n}", "event": "acquire", "effective_date": "2022-04-01",
                "insurer_number": "01370014", "symbol": "12", "number": str(1000 + n // 2),
                "branch": f"{n % 2 + 1:02d}", "name_kanji": "讃岐 花子",
                "name_kana": "サヌキ ハナコ", "birth_date": "2001-07-01", "sex": "2",
                "address": "香川県高松市番町四丁目1番10号", "relationship": str(n % 2 + 1),
                "copay_percent": "30",
            }  # fmt: skip
            if n % 2:
                row.update(CASES[(n // 2) % len(CASES)])
            writer.writerow(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=OUT / "dependants.json")
    args = parser.parse_args()
    rules = load_residency_rules()
    with tempfile.TemporaryDirectory() as folder:
        feed = Path(folder) / "feed.csv"
        write_feed(feed, args.rows)
        wall, cpu = time.perf_counter(), time.process_time()
        check = check_residency_file(feed, rules)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        plain = Path(folder) / "plain.csv"
        plain.write_text("event_id,event,effective_date\n", encoding="utf-8")
        started = time.perf_counter()
        for _ in range(1000):
            feed_has_residency_columns(plain)
        header_us = (time.perf_counter() - started) * 1000
    result = {
        "rows": args.rows,
        "judged": len(check.rows),
        "seconds_wall": round(wall, 3),
        "seconds_cpu": round(cpu, 3),
        "rows_per_second_cpu": round(args.rows / cpu),
        "header_test_microseconds": round(header_us, 1),
        "counts": {o: check.count(o) for o in ("認定", "不認定", "要確認")},
        "machine": machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
