"""The event loop's stalls under a paced load, two code trees alternated (issue 15, the p99).

    .venv/bin/python benchmarks/bench_stalls.py --persons 1000000 --rate 1200 \
        --sides main=/work/main/src,branch=src --rounds 3 --duration 20 --reuse-dir DIR

For each round and each side (in turn: ABAB…): the service from that side's ``src`` (first on
``PYTHONPATH``) under ``stall_probe_app``, warmed at the rate, then a paced wrk run
(``checks.lua``, as ``bench_checks``); per run the stall histogram of its workers (after the
warm-up), the p99 and the server's CPU per request, and whether the audit log holds a record
for every 2xx answer. Prints the medians per side and writes ``--out``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: the repository root makes `benchmarks` a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._checks_common import HERE, log
from benchmarks._checks_measure import audit_count
from benchmarks._checks_paced import paced_card_bodies
from benchmarks._checks_register import (
    release_register,
    reused_register,
    write_card_files,
    write_number_files,
)
from benchmarks._checks_servers import CpuMeter, Server, stack_flags
from benchmarks._checks_wrk import run_wrk
from benchmarks.stall_probe_app import summarise


def _run(side: str, src: str, reg: Any, args: argparse.Namespace, workdir: Path,
         rng: random.Random, index: int) -> dict[str, Any]:  # fmt: skip
    folder = workdir / f"stalls_{side}_{index}"
    env = {**reg.env, "PYTHONPATH": str(Path(src).resolve()),
           "KOKUHO_BENCH_STALL_LOG": str(folder)}  # fmt: skip
    if args.sample:
        env["KOKUHO_BENCH_STALL_SAMPLE"] = "1"
    app = ["stall_probe_app:create_app", "--factory", "--app-dir", str(HERE)]
    stack, _ = stack_flags("auto", env)
    server = Server(side, app, env, args.workers, stack, workdir / f"{side}_{index}.log")
    numbers = workdir / "numbers"
    cards = workdir / "cards"
    try:
        server.wait_ready()
        write_card_files(cards, reg, paced_card_bodies(args.rate, 0.2, args.warmup), rng)
        run_wrk(server.url, numbers, cards, reg.token, 0.2, args.warmup, 32, args.rate)
        write_card_files(cards, reg, paced_card_bodies(args.rate, 0.2, args.duration), rng)
        before = audit_count(reg.url)
        since = time.time()
        meter = CpuMeter(server.pgid)
        run = run_wrk(server.url, numbers, cards, reg.token, 0.2, args.duration, 32, args.rate)
        run["cpu"] = meter.read(run["requests"])
        run["audit_ok"] = audit_count(reg.url) - before >= run["ok_2xx"]
    finally:
        server.stop()
    rows = [json.loads(p.read_text()) for p in sorted(folder.glob("stall-*.json"))]
    run["stall"] = summarise(rows, since)
    run["samples"] = [row["samples"][:8] for row in rows]
    run["raw"] = [{"pid": row["pid"], "stalls": [s for s in row["stalls"] if s[0] >= since],
                   "events": row["events"], "gc_generations": row["gc_generations"]}
                  for row in rows]  # fmt: skip
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, required=True, help="offered requests/s")
    parser.add_argument("--sides", default=f"main=/work/main/src,branch={HERE.parent / 'src'}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", action="store_true", help="take stacks (perturbs the loop)")
    parser.add_argument("--reuse-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("stalls.json"))
    args = parser.parse_args()
    sides = dict(pair.split("=", 1) for pair in args.sides.split(","))
    rng = random.Random(2026)
    reg = reused_register(args.reuse_dir.resolve(), args.persons, "sqlite", 5000,
                          min(100_000, args.persons), True)  # fmt: skip
    results: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    try:
        with tempfile.TemporaryDirectory(prefix="bench_stalls_") as tmp:
            workdir = Path(tmp)
            write_number_files(workdir / "numbers", reg.numbers)
            for index in range(args.rounds):
                for side, src in sides.items():
                    run = _run(side, src, reg, args, workdir, rng, index)
                    results[side].append(run)
                    log(f"{side} round {index}: {run['rps']}/s p50 {run['p50_ms']} p99 "
                        f"{run['p99_ms']} max {run['max_ms']} ms, cpu "
                        f"{run['cpu']['server_ms_per_request']} ms/req, audit "
                        f"{run['audit_ok']}, stalls {run['stall']['stalls']} "
                        f"blocked {run['stall']['blocked']} "
                        f"mostly {run['stall']['stalls_ge_5ms_mostly']} "
                        f"causes {run['stall']['causes_of_stalls_ge_5ms']} "
                        f"slow {run['stall']['slow_events']}")  # fmt: skip
                    for samples in run["samples"]:
                        for stack, count in samples:
                            log(f"  {count} {stack}")
    finally:
        Server.stop_all()
        release_register(reg)
    summary = {}
    for side, runs in results.items():
        summary[side] = {
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "cpu_ms": statistics.median(r["cpu"]["server_ms_per_request"] for r in runs),
            "stalls": {
                k: statistics.median(r["stall"]["per_minute"][k] for r in runs)
                for k in runs[0]["stall"]["per_minute"]
            },  # fmt: skip
            "blocked_stalls": {
                k: statistics.median(r["stall"]["blocked_per_minute"][k] for r in runs)
                for k in runs[0]["stall"]["blocked_per_minute"]
            },  # fmt: skip
            "audit_ok": all(r["audit_ok"] for r in runs),
        }
    print(json.dumps(summary, indent=1))
    args.out.write_text(json.dumps({"config": vars(args) | {"reuse_dir": str(args.reuse_dir),
                                    "out": str(args.out)}, "summary": summary,
                                    "runs": results}, indent=1, default=str))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
