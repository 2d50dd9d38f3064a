"""bench_checks' paced runs (開ループ): the latency at a fixed offered rate below saturation.

The closed-loop runs keep ``--connections`` requests in flight: at saturation their p99 is
mostly the wait in the server's queue, which says little about the work of one check. A paced
run offers R requests/s on checks.lua's schedule (wrk's ``delay()`` hook, see ``pacing``) to the
service and, back to back at the same R, to the constant baseline; both servers are up for the
whole series, so every service run has its baseline next to it in time. R comes from
``--rate`` (requests/s) or ``--rate-share`` (shares of the constant's closed-loop req/s measured
just before, in the same run). A run that achieved less than ``KEPT_UP_SHARE`` of R is marked
saturated: its latencies leave out the wait before the send (coordinated omission).
"""

from __future__ import annotations

import math
import random
import shutil
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._checks_common import ATTESTATION_WINDOW_S, GOALS, WRK_THREADS, BenchError, log
from benchmarks._checks_measure import Options, app_for, audit_count, audit_verify
from benchmarks._checks_register import Register, write_card_files
from benchmarks._checks_servers import CpuMeter, Server
from benchmarks._checks_wrk import judge_paced, run_wrk

KINDS = ("service", "constant")


def offered_rates(rates: Sequence[float], shares: Sequence[float],
                  ceiling: float | None) -> list[tuple[float, float | None]]:  # fmt: skip
    """The offered rates, lowest first: (requests/s, its share of ``ceiling`` or None for an
    absolute ``--rate``). ``ceiling`` is the constant's closed-loop req/s of the same run."""
    offered: list[tuple[float, float | None]] = [(float(rate), None) for rate in rates]
    if shares:
        if not ceiling:
            raise BenchError("--rate-share needs the constant's closed-loop req/s of this run")
        offered += [(round(share * ceiling, 1), share) for share in shares]
    if any(rate <= 0 for rate, _ in offered):
        raise BenchError(f"offered rates must be positive: {offered}")
    return sorted(offered, key=lambda pair: pair[0])


def paced_card_bodies(rate: float, share: float, seconds: float) -> int:
    """Card bodies per wrk thread for a paced run: the schedule sends at most ``rate × seconds``
    requests in all, ``share`` of them card checks, split evenly between the threads; 5 % and
    a few more for the slots taken at the start."""
    if share <= 0:
        return 0
    return math.ceil(rate * share * seconds / WRK_THREADS * 1.05) + 20


def measure_paced(reg: Register, workers: int, opts: Options, workdir: Path,
                  rng: random.Random, offered: list[tuple[float, float | None]],
                  rounds: int) -> dict[str, Any]:  # fmt: skip
    """Paced runs at each offered rate, service then constant, ``rounds`` times; the service's
    audit log must hold a record for every 2xx answer of each run, and its chain verify."""
    run_dir = workdir / f"paced_{reg.persons}_{workers}"
    numbers = workdir / f"numbers_{reg.persons}"
    servers: dict[str, Server] = {}
    results: list[dict[str, Any]] = []
    try:
        for kind in KINDS:
            log_path = workdir / f"paced_{reg.persons}_{workers}_{kind}.log"
            servers[kind] = Server(kind, app_for(kind), reg.env, workers, opts.stack, log_path)
        for kind, server in servers.items():
            server.wait_ready()
            # New processes: warm them at the lowest rate before anything is measured.
            _paced_run(server, reg, opts, rng, run_dir / f"warm_{kind}", offered[0][0],
                       opts.warmup, numbers)  # fmt: skip
        for rate, share in offered:
            runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
            for _ in range(rounds):
                for kind, server in servers.items():
                    before = audit_count(reg.url) if kind == "service" else 0
                    meter = CpuMeter(server.pgid)
                    run = _paced_run(server, reg, opts, rng, run_dir / kind, rate, opts.duration,
                                     numbers)  # fmt: skip
                    run["cpu"] = meter.read(run["requests"])
                    if kind == "service":
                        run["audit_new"] = audit_count(reg.url) - before
                        run["audit_ok"] = run["audit_new"] >= run["ok_2xx"]
                    if run["non_2xx"]:
                        run["server_errors"] = server.error_sample()
                    runs[kind].append(run)
                    log(paced_line(kind, judge_paced(run, rate)))
            results.append(summarise_paced(rate, share, runs["service"], runs["constant"]))
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    verified = audit_verify(reg.env)
    for entry in results:
        entry["audit_ok"] = entry["audit_ok"] and verified["ok"]
    return {"audit_verify": verified, "rates": results}


def _paced_run(server: Server, reg: Register, opts: Options, rng: random.Random, folder: Path,
               rate: float, seconds: float, numbers: Path) -> dict[str, Any]:  # fmt: skip
    made = write_card_files(folder, reg, paced_card_bodies(rate, opts.card_share, seconds), rng)
    if made + seconds > ATTESTATION_WINDOW_S - 10:
        raise BenchError(f"attestations took {made:.0f} s to make: with {seconds:g} s runs "
                         "the last ones would be stale")  # fmt: skip
    run = run_wrk(server.url, numbers, folder, reg.token, opts.card_share, seconds,
                  opts.connections, rate)  # fmt: skip
    run["card_bodies_seconds"] = round(made, 2)
    return run


def _side(runs: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    """Medians over the rounds of one server's runs at one rate; kept up only if every run did."""
    judged = [judge_paced(run, rate) for run in runs]

    def median(key: str) -> float:
        return round(float(statistics.median(j[key] for j in judged)), 2)

    return {
        "achieved_rps": median("achieved_rps"),
        "achieved_share": median("achieved_share"),
        "kept_up": all(j["kept_up"] for j in judged),
        "saturated": any(j["saturated"] for j in judged),
        "coordinated_omission": any(j["coordinated_omission"] for j in judged),
        "late_sends": sum(j["late_sends"] for j in judged),
        "p50_ms": median("p50_ms"),
        "p90_ms": median("p90_ms"),
        "p99_ms": median("p99_ms"),
        "max_ms": max(j["max_ms"] for j in judged),
        "non_2xx": sum(j["non_2xx"] for j in judged),
        "server_ms_per_request": median_cpu(runs),
    }


def median_cpu(runs: list[dict[str, Any]]) -> float:
    values = [run["cpu"]["server_ms_per_request"] for run in runs if "cpu" in run]
    return round(float(statistics.median(values)), 3) if values else 0.0


def summarise_paced(rate: float, share: float | None, service: list[dict[str, Any]],
                    constant: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """One offered rate: the service's and the constant's figures side by side. The p99 goal is
    met only by a service run that kept up (a saturated run's p99 understates)."""
    ours, base = _side(service, rate), _side(constant, rate)
    return {
        "offered_rps": round(rate, 1),
        "share_of_constant": share,
        "service": ours,
        "constant": base,
        "p99_over_constant_ms": round(ours["p99_ms"] - base["p99_ms"], 2),
        "p99_goal_met": ours["kept_up"] and ours["p99_ms"] <= GOALS["p99_ms"],
        "audit_ok": all(run.get("audit_ok", False) for run in service) and ours["non_2xx"] == 0,
        "service_runs": service,
        "constant_runs": constant,
    }


def paced_line(kind: str, judged: dict[str, Any]) -> str:
    """The log line of one paced run."""
    verdict = "kept up" if judged["kept_up"] else "SATURATED (latency understated)"
    return (f"{kind} paced at {judged['offered_rps']:,.0f}/s: achieved "
            f"{judged['achieved_rps']:,.0f}/s ({verdict}, late sends {judged['late_sends']}), "
            f"p50 {judged['p50_ms']} p90 {judged['p90_ms']} p99 {judged['p99_ms']} "
            f"max {judged['max_ms']} ms, non-2xx {judged['non_2xx']}")  # fmt: skip
