"""Safe-release benchmark (issue 14): secondary suppression and the release check.

    .venv/bin/python benchmarks/bench_release.py [--seed 1]

For tables of the sizes a provision publishes (17 市町村 × 21 age bands, 47 都道府県 × 21, and a
larger 100 × 40), with lognormal patient counts (median about 67, so a few percent of cells
fall under 10): the time :func:`kokuho.provision.suppress` takes, and the time the release
check takes to read the released CSV and prove that no hidden cell is pinned. Prints and writes
JSON to benchmarks/out/release.json (``--out``).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import time
from pathlib import Path

from kokuho.provision import CountTable, check_file, release_rules, suppress

try:  # run as a script (benchmarks/ on sys.path) or as a module of the benchmarks package
    from benchmarks._machine import machine
except ImportError:
    from _machine import machine  # type: ignore[no-redef]

OUT = Path(__file__).parent / "out"
SIZES = ((17, 21), (47, 21), (100, 40))


def _table(rows: int, columns: int, rng: random.Random) -> CountTable:
    counts = tuple(
        tuple(max(0, int(rng.lognormvariate(4.2, 1.0))) for _ in range(columns))
        for _ in range(rows)
    )
    return CountTable(
        tuple(f"r{i}" for i in range(rows)), tuple(f"c{j}" for j in range(columns)), counts
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT / "release.json")
    args = parser.parse_args()
    rules = release_rules()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for rows, columns in SIZES:
            table = _table(rows, columns, random.Random(args.seed))
            start = time.perf_counter()
            safe = suppress(table)
            suppressed = time.perf_counter() - start
            path = Path(folder) / f"t{rows}x{columns}.csv"
            with path.open("w", encoding="utf-8", newline="") as handle:
                csv.writer(handle).writerows(safe.rows())
            start = time.perf_counter()
            checked = check_file(path, rules)
            elapsed = time.perf_counter() - start
            results.append(
                {
                    "rows": rows,
                    "columns": columns,
                    "primary": len(safe.primary),
                    "secondary": len(safe.secondary),
                    "suppress_s": round(suppressed, 4),
                    "check_s": round(elapsed, 4),
                    "check_ok": checked.ok,
                }
            )
            print(json.dumps(results[-1]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"machine": machine(), "tables": results}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
