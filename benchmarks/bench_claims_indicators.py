"""Claims benchmark (issue 5): the time of every claims indicator over a year of claims.

    .venv/bin/python benchmarks/bench_claims_indicators.py [--persons 20000] [--repeat 3]

Builds the synthetic prefecture (``kokuho.synth.generate``: the register's change feed and a
fiscal year of レセ電 files that agree with its people), loads the register into SQLite and
the claims and the sample masters into a fresh lake, then times, over that fiscal year:

- **baseline**: a scan of the same year's ``claim_drugs`` (Σ quantity by insurer), the least
  any drug indicator must read;
- ``generic_share`` (by insurer and month), ``duplicate_prescribing`` and ``multi_drug``
  (person lists), ``cost`` (年齢調整 by insurer, with the register's insured months),
  ``eligibility_errors`` (every claim against the register) and ``claims_figures`` (all of
  them per insurer, as the incentives room asks).

Prints and writes JSON to benchmarks/out/claims_indicators.json (``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kokuho.claims import (
    ClaimsLake,
    claims_figures,
    cost,
    duplicate_prescribing,
    eligibility_errors,
    fiscal_months,
    generic_share,
    multi_drug,
)
from kokuho.registry import import_changes, load_insurers
from kokuho.store import connect
from kokuho.synth import generate

try:  # run as a script (benchmarks/ on sys.path) or as a module of the benchmarks package
    from benchmarks._machine import machine
except ImportError:
    from _machine import machine  # type: ignore[no-redef]

OUT = Path(__file__).parent / "out"


def _timed(run: Callable[[], Any], repeat: int) -> dict[str, Any]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return {"seconds": [round(s, 3) for s in seconds], "median": statistics.median(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT / "claims_indicators.json")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": machine(),
        "command": " ".join(["benchmarks/bench_claims_indicators.py", *sys.argv[1:]]),
    }
    with tempfile.TemporaryDirectory() as scratch:
        data, home = Path(scratch) / "data", Path(scratch) / "home"
        started = time.perf_counter()
        generate(data, seed=args.seed, persons=args.persons, start=dt.date(2020, 4, 1), years=3)
        results["generate_seconds"] = round(time.perf_counter() - started, 1)
        engine = connect(f"sqlite:///{home / 'kokuho.db'}")
        load_insurers(engine, data / "insurers.csv")
        for path in sorted((data / "changes").glob("*.csv"), key=lambda p: p.stem[-7:]):
            import_changes(engine, path)
        lake = ClaimsLake(home / "lake")
        masters = data / "masters"
        lake.load_masters(masters / "y_synthetic.csv", masters / "generic_list_synthetic.csv")
        lake.load_disease_master(masters / "b_synthetic.csv")
        files = sorted((data / "claims").glob("*.csv"))
        started = time.perf_counter()
        report = lake.ingest(files)
        results["ingest"] = {
            "files": len(files),
            "claims": report.claims,
            "lines": report.lines,
            "seconds": round(time.perf_counter() - started, 2),
        }
        year = 2022
        months = fiscal_months(year)
        print(f"input: {results['ingest']}", flush=True)

        def scan() -> None:
            drugs = lake.table("claim_drugs", months)
            drugs.group_by("insurer").aggregate(q=drugs.quantity.sum()).to_pyarrow()

        runs: dict[str, Callable[[], Any]] = {
            "baseline_scan": scan,
            "generic_share": lambda: generic_share(lake, fiscal_year=year).to_pyarrow(),
            "duplicate_prescribing": lambda: duplicate_prescribing(
                lake, fiscal_year=year
            ).to_pyarrow(),
            "multi_drug": lambda: multi_drug(lake, fiscal_year=year).to_pyarrow(),
            "cost": lambda: cost(lake, engine, fiscal_year=year).to_pyarrow(),
            "eligibility_errors": lambda: eligibility_errors(lake, engine, months=months),
            "claims_figures": lambda: claims_figures(lake, engine, year),
        }
        timings = {}
        for name, run in runs.items():
            timings[name] = _timed(run, args.repeat)
            print(f"{name}: median {timings[name]['median']:.2f} s", flush=True)
        base = timings["baseline_scan"]["median"]
        for timing in timings.values():
            timing["vs_baseline"] = round(timing["median"] / base, 1)
        indicators = [k for k in timings if k not in ("baseline_scan", "claims_figures")]
        results["timings"] = timings
        results["all_indicators_seconds"] = round(sum(timings[k]["median"] for k in indicators), 2)
        engine.dispose()
    results["machine"]["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
