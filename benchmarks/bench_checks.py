"""Eligibility-check load benchmark: the real server over HTTP on loopback, closed loop and
paced.

    .venv/bin/python benchmarks/bench_checks.py [--persons 1000000,10000000]
        [--backend sqlite|postgres] [--duration 30] [--connections 32] [--workers 1[,2]]
        [--card-share 0.2] [--cards 5000] [--out benchmarks/out/checks.json]
        [--reuse-dir DIR [--prepare-only] [--no-reuse-upgrade]]
        [--rate 500,1000] [--rate-share 0.25,0.5]

For each register size: a register of N persons written in bulk (``_fill``) in a temporary
KOKUHO_HOME, one active institution, its credential and face-recognition reader, ``--cards``
persons with a verified My Number link and an issued card. Then, for each worker count:

* the service (``uvicorn kokuho.web:create_app``) in its own process group, under wrk
  (``checks.lua``: mixed number checks, 5 % of them for unknown numbers, and face-mode card
  checks with single-use attestations made just before the run); afterwards the audit log
  must hold a record for every 2xx answer and ``kokuho audit verify`` must say OK;
* the same stack answering a constant (``constant_app.py``), same flags, same wrk run, back
  to back: ratio = service rps / constant rps.
* on PostgreSQL (``--db-baseline``), the constant again after one ``SELECT 1`` on the service's
  database per request (``constant_app:create_db_app``): the ceiling of any check that reads
  that database once, with the database server on the same cores; ratio_to_constant_db.
* with ``--rate`` / ``--rate-share``: paced runs (``_checks_paced``), open loop at fixed offered
  rates below saturation (absolute, or shares of the constant's req/s just measured), service
  and constant back to back at each rate: achieved rate, p50/p90/p99/max of both, and whether
  the achieved rate kept up (>= 97 % of the offered one; if not, the run is marked saturated:
  wrk times from the send, so its latencies then understate). The closed-loop p99 is the
  latency at saturation, mostly queueing; the paced p99 is the one to hold to 20 ms.

Then the kill test on the last size: load for ``--kill-duration`` s, ``kill -9`` of the
server's process group half-way, every 2xx answer must have its audit record, the chain must
verify, and a restarted server must answer again. Writes ``--out`` and prints a summary.

``--reuse-dir DIR`` keeps each generated register in DIR and reuses it, reset to its generated
state (``_register_cache``: the key, the reset, a newer migration head); ``--prepare-only``
generates or checks the registers and measures nothing. The JSON says per size whether the
register was reused and how long its generation took.

The parts live in private modules: ``_checks_register`` (the register, its request bodies),
``_checks_servers`` (the server processes, CPU accounting), ``_checks_wrk`` (wrk, its parsing,
the pacing arithmetic), ``_checks_measure`` (one closed-loop run, the audit checks),
``_checks_paced``, ``_checks_kill`` (the kill test) and ``_checks_report``.

Goals (docs: Performance budget): >= 5,000 checks/s, p99 <= 20 ms, ratio >= 50 %, audit for
every answer, nothing lost on kill, p50 flat from 1 M to 10 M persons.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: the repository root makes `benchmarks` a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._checks_common import (
    BIN,
    GOALS,
    HERE,
    UNKNOWN_SHARE,
    WRK_THREADS,
    BenchError,
    log,
)
from benchmarks._checks_kill import kill_test
from benchmarks._checks_measure import Options, measure
from benchmarks._checks_paced import measure_paced, offered_rates
from benchmarks._checks_register import (
    Register,
    build_register,
    card_body,
    drop_schema,
    generate,
    release_register,
    reused_register,
    write_number_files,
)
from benchmarks._checks_report import (
    flatness,
    judge,
    kill_line,
    line,
    print_summary,
    summarise,
    versions,
)
from benchmarks._checks_servers import Server, stack_flags
from benchmarks._checks_wrk import KEPT_UP_SHARE

__all__ = ["Register", "build_register", "card_body", "drop_schema", "generate", "main"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", default="1000000,10000000", help="register sizes")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--duration", type=float, default=30, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", default="1", help="uvicorn processes, e.g. 1 or 1,2")
    parser.add_argument("--card-share", type=float, default=0.2)
    parser.add_argument("--cards", type=int, default=5000)
    parser.add_argument("--number-bodies", type=int, default=100_000,
                        help="distinct number-check bodies")  # fmt: skip
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="service/constant pairs per size and worker count (medians)",
    )
    parser.add_argument(
        "--fast-stack",
        choices=["auto", "on", "off"],
        default="auto",
        help="uvicorn --loop uvloop --http httptools (auto: if importable)",
    )
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn",
                        help="the ASGI server for both the service and the constant")  # fmt: skip
    parser.add_argument("--kill-duration", type=float, default=8, help="0 skips the kill test")
    parser.add_argument("--kill-workers", type=int, help="default: the first --workers value")
    parser.add_argument("--max-rps-guess", type=float, default=10_000,
                        help="sizes the warm-up's card bodies")  # fmt: skip
    parser.add_argument(
        "--workdir",
        type=Path,
        default=os.environ.get("KOKUHO_BENCH_DIR"),
        help="parent of the temporary homes (default: the system temp)",
    )
    parser.add_argument(
        "--reuse-dir",
        type=Path,
        default=os.environ.get("KOKUHO_BENCH_REUSE_DIR"),
        help="keep each generated register here and reuse it (keyed by persons, backend, "
        "cards, migration head and generator version); reset to its generated state each run",
    )
    parser.add_argument(
        "--no-reuse-upgrade",
        action="store_true",
        help="with --reuse-dir: generate anew when the migration head moved, instead of "
        "migrating the register kept at the older head",
    )
    parser.add_argument("--prepare-only", action="store_true",
                        help="with --reuse-dir: generate (or check) the registers, measure "
                        "nothing")  # fmt: skip
    parser.add_argument("--rate", default="",
                        help="paced runs at these offered req/s, e.g. 500,1000")  # fmt: skip
    parser.add_argument("--rate-share", default="",
                        help="paced runs at these shares of the constant's closed-loop req/s "
                        "of the same run, e.g. 0.25,0.5")  # fmt: skip
    parser.add_argument("--db-baseline", choices=["auto", "on", "off"], default="auto",
                        help="also measure the constant after one SELECT 1 on the service's "
                        "database (constant_app:create_db_app); auto: on PostgreSQL")  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "out" / "checks.json")
    args = parser.parse_args()
    db_baseline = args.db_baseline == "on" or (
        args.db_baseline == "auto" and args.backend == "postgres"
    )

    sizes = [int(s) for s in args.persons.split(",") if s.strip()]
    workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    problems = []
    if not sizes or min(sizes) < 1000:
        problems.append("--persons: sizes of at least 1000")
    if not workers or min(workers) < 1:
        problems.append("--workers: at least 1")
    if not 0 <= args.card_share <= 1:
        problems.append("--card-share: between 0 and 1")
    try:
        rates = [float(x) for x in args.rate.split(",") if x.strip()]
        shares = [float(x) for x in args.rate_share.split(",") if x.strip()]
    except ValueError:
        rates, shares = [], []
        problems.append("--rate / --rate-share: comma-separated numbers")
    if any(x <= 0 for x in rates):
        problems.append("--rate: requests/s above 0")
    if any(not 0 < x <= 2 for x in shares):
        problems.append("--rate-share: shares above 0, at most 2")
    if args.card_share > 0 and args.cards < 1:
        problems.append("--cards: at least 1 when --card-share > 0")
    if not 1 <= args.duration <= 90:
        problems.append("--duration: 1–90 s (face attestations are valid for 120 s)")
    if not (BIN / "uvicorn").exists() or not (BIN / "kokuho").exists():
        problems.append(f"uvicorn and kokuho not found in {BIN}: run with the project's .venv")
    if shutil.which("wrk") is None:
        problems.append("wrk is not installed (apt-get install -y wrk)")
    if args.prepare_only and args.reuse_dir is None:
        problems.append("--prepare-only needs --reuse-dir")
    if problems:
        parser.error("; ".join(problems))

    stack, stack_name = stack_flags(args.fast_stack, dict(os.environ))
    if args.server == "granian":
        if not (BIN / "granian").exists():
            parser.error(f"--server granian: granian not found in {BIN} (pip install granian)")
        stack, stack_name = ["granian", "--loop", "uvloop", "--http", "1"], "granian+uvloop"
    opts = Options(args.duration, args.warmup, args.connections, args.card_share, stack,
                   args.max_rps_guess, args.kill_duration)  # fmt: skip
    results: dict[str, Any] = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": versions(),
        },
        "config": {
            "backend": args.backend,
            "persons": sizes,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": WRK_THREADS,
            "workers": workers,
            "db_baseline": db_baseline,
            "card_share": args.card_share,
            "cards": args.cards,
            "number_bodies": args.number_bodies,
            "unknown_share": UNKNOWN_SHARE,
            "rounds": args.rounds,
            "stack": stack_name,
            "reuse_dir": str(args.reuse_dir) if args.reuse_dir else None,
            "paced_rates": rates,
            "paced_shares": shares,
            "kept_up_share": KEPT_UP_SHARE,
        },
        "goals": GOALS,
        "sizes": [],
    }
    rng = random.Random(2026)
    failed = False
    schema: str | None = None
    with tempfile.TemporaryDirectory(prefix="bench_checks_", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        try:
            for index, persons in enumerate(sizes):
                bodies = min(args.number_bodies, persons)
                if args.reuse_dir is None:
                    reg = build_register(persons, args.backend, workdir, args.cards, bodies)
                else:
                    upgrade = not args.no_reuse_upgrade
                    reg = reused_register(args.reuse_dir.resolve(), persons, args.backend,
                                          args.cards, bodies, upgrade)  # fmt: skip
                schema = reg.schema
                if args.prepare_only:
                    results["sizes"].append({"persons": persons, "register_reused": reg.reused,
                                             **{k: round(s, 1) for k, s in reg.timings.items()},
                                             "by_workers": {}})  # fmt: skip
                    release_register(reg)
                    continue
                write_number_files(workdir / f"numbers_{persons}", reg.numbers)
                entry: dict[str, Any] = {
                    "persons": persons,
                    "register_reused": reg.reused,
                    **{k: round(s, 1) for k, s in reg.timings.items()},
                    "by_workers": {},
                }
                for w in workers:
                    service_runs, constant_runs, db_runs = [], [], []
                    for _ in range(args.rounds):
                        log(f"{persons:,} persons, {w} worker(s): service")
                        service_runs.append(measure("service", reg, w, opts, workdir, rng))
                        log(line("service", service_runs[-1]))
                        log(f"{persons:,} persons, {w} worker(s): constant baseline")
                        constant_runs.append(measure("constant", reg, w, opts, workdir, rng))
                        log(line("constant", constant_runs[-1]))
                        if db_baseline:
                            log(f"{persons:,} persons, {w} worker(s): constant after SELECT 1")
                            db_runs.append(measure("constant_db", reg, w, opts, workdir, rng))
                            log(line("constant_db", db_runs[-1]))
                    summary = summarise(service_runs, constant_runs, db_runs)
                    entry["by_workers"][str(w)] = summary
                    if rates or shares:
                        offered = offered_rates(rates, shares, summary["constant_rps"])
                        listed = ", ".join(f"{rate:,.0f}" for rate, _ in offered)
                        log(f"{persons:,} persons, {w} worker(s): paced at {listed} req/s")
                        paced = measure_paced(reg, w, opts, workdir, rng, offered, args.rounds)
                        for rate in paced["rates"]:
                            # A share of the constant can lie beyond the service's own
                            # saturation: say how far, next to the verdict.
                            rate["service_closed_loop_rps"] = summary["rps"]
                            rate["offered_over_service_rps"] = (
                                round(rate["offered_rps"] / summary["rps"], 2)
                                if summary["rps"] else None
                            )  # fmt: skip
                        summary["paced"] = paced["rates"]
                        summary["paced_audit_verify"] = paced["audit_verify"]
                results["sizes"].append(entry)
                last = index == len(sizes) - 1
                if last and args.kill_duration > 0:
                    kw = args.kill_workers or workers[0]
                    guess = entry["by_workers"].get(str(kw), {}).get("rps") or args.max_rps_guess
                    log(f"kill test: {kw} worker(s), kill -9 at {args.kill_duration / 2:g} s")
                    results["kill_test"] = kill_test(reg, kw, opts, workdir, rng, guess)
                    log(f"kill test: {kill_line(results['kill_test'])}")
                release_register(reg)
                schema = None
                shutil.rmtree(workdir / f"numbers_{persons}", ignore_errors=True)
        except BenchError as error:
            failed = True
            results["error"] = str(error)
            print(f"bench_checks: {error}", file=sys.stderr)
        finally:
            Server.stop_all()
            with contextlib.suppress(Exception):
                drop_schema(schema)
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    flatness(results)
    judge(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print_summary(results, args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
