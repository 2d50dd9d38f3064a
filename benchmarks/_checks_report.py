"""bench_checks' summaries, goals, and the printed table."""

from __future__ import annotations

import contextlib
import statistics
import subprocess
from pathlib import Path
from typing import Any

from benchmarks._checks_common import GOALS


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("uvicorn", "fastapi", "starlette", "pydantic", "sqlalchemy", "psycopg"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    found["wrk"] = (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else ""
    return found


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return round(float(statistics.median(run[key] for run in runs)), 2)


def summarise(
    service: list[dict[str, Any]],
    constant: list[dict[str, Any]],
    constant_db: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    rps, constant_rps = _median(service, "rps"), _median(constant, "rps")
    ms = statistics.median(run["cpu"]["server_ms_per_request"] for run in service)
    constant_ms = statistics.median(run["cpu"]["server_ms_per_request"] for run in constant)
    db: dict[str, Any] = {}
    if constant_db:
        db_rps = _median(constant_db, "rps")
        db_ms = statistics.median(run["cpu"]["server_ms_per_request"] for run in constant_db)
        db = {
            "constant_db_rps": db_rps,
            "constant_db_p50_ms": _median(constant_db, "p50_ms"),
            "constant_db_p99_ms": _median(constant_db, "p99_ms"),
            "constant_db_ms_per_request": db_ms,
            "constant_db_ratio_to_constant": round(db_rps / constant_rps, 3)
            if constant_rps else None,
            "ratio_to_constant_db": round(rps / db_rps, 3) if db_rps else None,
            "constant_db_runs": constant_db,
        }  # fmt: skip
    return {
        **db,
        "rps": rps,
        "p50_ms": _median(service, "p50_ms"),
        "p99_ms": _median(service, "p99_ms"),
        "non_2xx": sum(run["non_2xx"] for run in service),
        "audit_ok": all(run["audit_ok"] for run in service),
        "constant_rps": constant_rps,
        "constant_p50_ms": _median(constant, "p50_ms"),
        "constant_p99_ms": _median(constant, "p99_ms"),
        "ratio": round(rps / constant_rps, 3) if constant_rps else None,
        "server_ms_per_request": ms,
        "constant_ms_per_request": constant_ms,
        # The same ratio from CPU per request: what the ratio would be if both runs had had
        # the same CPU, which a shared machine does not give.
        "cpu_ratio": round(constant_ms / ms, 3) if ms else None,
        "other_cores": round(max(r["cpu"]["other_cores"] for r in service + constant), 2),
        "service_runs": service,
        "constant_runs": constant,
    }


def flatness(results: dict[str, Any]) -> None:
    sizes = results["sizes"]
    if len(sizes) < 2:
        return
    first, last = sizes[0], sizes[-1]
    results["flatness_p50_ratio"] = {
        w: round(last["by_workers"][w]["p50_ms"] / first["by_workers"][w]["p50_ms"], 2)
        for w in first["by_workers"]
        if w in last["by_workers"] and first["by_workers"][w]["p50_ms"]
    }
    results["flatness_sizes"] = [first["persons"], last["persons"]]


def judge(results: dict[str, Any]) -> None:
    for entry in results["sizes"]:
        for run in entry["by_workers"].values():
            run["goals_met"] = {
                "rps": run["rps"] >= GOALS["rps"],
                "p99": run["p99_ms"] <= GOALS["p99_ms"],
                "ratio": (run["ratio"] or 0) >= GOALS["ratio"],
                "audit": run["audit_ok"]
                and run["non_2xx"] == 0
                and all(paced["audit_ok"] for paced in run.get("paced", [])),
            }
            if run.get("paced"):
                # The fair latency figure: p99 at a paced rate the service kept up with (a
                # saturated paced run's p99 leaves out the queueing before the send).
                kept = [paced for paced in run["paced"] if paced["service"]["kept_up"]]
                run["goals_met"]["p99_paced"] = bool(kept) and all(
                    paced["p99_goal_met"] for paced in kept
                )


def line(kind: str, run: dict[str, Any]) -> str:
    text = (f"{kind}: {run['rps']:,.0f} req/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms, "
            f"non-2xx {run['non_2xx']}, cards {run['card_share_sent']:.0%}, "
            f"validity {run['validity']}, server {run['cpu']['server_cores']} cores "
            f"{run['cpu']['server_ms_per_request']} ms/req, wrk {run['cpu']['wrk_cores']}, "
            f"others {run['cpu']['other_cores']}")  # fmt: skip
    if "audit_new" in run:
        verified = "OK" if run["audit_verify"]["ok"] else "FAIL"
        text += f", audit +{run['audit_new']} (verify {verified})"
    if run.get("server_errors"):
        text += f"\n  server errors: {run['server_errors']}"
    return text


def kill_line(kill: dict[str, Any]) -> str:
    chain = "OK" if kill["audit_verify"]["ok"] else "BROKEN"
    verdict = "PASS" if kill["ok"] else "FAIL"
    return (f"2xx {kill['ok_2xx']}, audit +{kill['audit_new']}, nothing lost "
            f"{kill['nothing_lost']}, chain {chain}, restart {kill['restart_seconds']} s → "
            f"number {kill['restart_number_status']}, card {kill.get('restart_card_status')}: "
            f"{verdict}")  # fmt: skip


def print_summary(results: dict[str, Any], out: Path) -> None:
    config = results["config"]
    print()
    print(f"eligibility checks over HTTP — {config['backend']}, {config['stack']}, "
          f"{config['connections']} connections, {config['duration_s']:g} s, "
          f"card share {config['card_share']:.0%}, {results['machine']['cpus']} CPUs, "
          f"load {results['machine']['loadavg_at_start']}")  # fmt: skip
    header = (f"{'persons':>11} {'w':>2} {'fill s':>7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'non2xx':>7} {'audit':>5} {'const/s':>8} {'ratio':>6} {'ms/req':>6} "
              f"{'c ms/req':>8} {'cpu ratio':>9} {'others':>6}  goals")  # fmt: skip
    print(header)
    for entry in results["sizes"]:
        for w, run in entry["by_workers"].items():
            met = run.get("goals_met", {})
            missed = [k for k, ok in met.items() if not ok]
            print(f"{entry['persons']:>11,} {w:>2} {entry['fill_seconds']:>7.1f} "
                  f"{run['rps']:>8,.0f} {run['p50_ms']:>7.2f} {run['p99_ms']:>7.2f} "
                  f"{run['non_2xx']:>7} {'ok' if run['audit_ok'] else 'FAIL':>5} "
                  f"{run['constant_rps']:>8,.0f} {run['ratio'] or 0:>6.1%} "
                  f"{run['server_ms_per_request']:>6.2f} {run['constant_ms_per_request']:>8.2f} "
                  f"{run['cpu_ratio'] or 0:>9.1%} {run['other_cores']:>6.2f}  "
                  f"{'all met' if not missed else 'missed: ' + ', '.join(missed)}")  # fmt: skip
            if "constant_db_rps" in run:
                print(f"{'':>11} {w:>2} constant after SELECT 1: {run['constant_db_rps']:,.0f} "
                      f"req/s ({run['constant_db_ratio_to_constant']:.1%} of the constant, "
                      f"{run['constant_db_ms_per_request']:.2f} ms/req); the service is "
                      f"{run['ratio_to_constant_db']:.1%} of it")  # fmt: skip
    if "flatness_p50_ratio" in results:
        print(f"p50 flatness {results['flatness_sizes'][0]:,} → {results['flatness_sizes'][1]:,}:"
              f" {results['flatness_p50_ratio']}")  # fmt: skip
    print_paced(results)
    if "kill_test" in results:
        print(f"kill test: {kill_line(results['kill_test'])}")
    print(
        "ms/req: server CPU per request (c: the constant); cpu ratio = c ms/req / ms/req; "
        "others: cores busy with other work during the runs (max)"
    )
    if "error" in results:
        print(f"ERROR: {results['error']}")
    print(f"written to {out}")


def print_paced(results: dict[str, Any]) -> None:
    """The paced runs' table: service and constant at each offered rate, side by side."""
    rows = [(entry["persons"], w, paced)
            for entry in results["sizes"] for w, run in entry["by_workers"].items()
            for paced in run.get("paced", [])]  # fmt: skip
    if not rows:
        return
    print()
    kept_up = results["config"]["kept_up_share"]
    print(f"paced (open loop; latency from the send; saturated = achieved < {kept_up:.0%} of "
          "offered: latency then understated)")  # fmt: skip
    print(f"{'persons':>11} {'w':>2} {'offered':>8} {'share':>5} | {'service/s':>9} {'p50':>6} "
          f"{'p90':>6} {'p99':>6} {'max':>7} {'late':>5} | {'const/s':>8} {'p50':>6} {'p90':>6} "
          f"{'p99':>6} {'max':>7} | p99 goal")  # fmt: skip
    for persons, w, paced in rows:
        ours, base = paced["service"], paced["constant"]
        share = paced["share_of_constant"]
        verdict = "met" if paced["p99_goal_met"] else "missed"
        flags = [name for name, side in (("service", ours), ("constant", base))
                 if side["saturated"]]  # fmt: skip
        if flags:
            verdict += f" (SATURATED: {', '.join(flags)})"
        if paced.get("offered_over_service_rps"):
            verdict += f"; {paced['offered_over_service_rps']:g}× service closed-loop req/s"
        print(f"{persons:>11,} {w:>2} {paced['offered_rps']:>8,.0f} "
              f"{'' if share is None else f'{share:.0%}':>5} | {ours['achieved_rps']:>9,.0f} "
              f"{ours['p50_ms']:>6.2f} {ours['p90_ms']:>6.2f} {ours['p99_ms']:>6.2f} "
              f"{ours['max_ms']:>7.2f} {ours['late_sends']:>5} | {base['achieved_rps']:>8,.0f} "
              f"{base['p50_ms']:>6.2f} {base['p90_ms']:>6.2f} {base['p99_ms']:>6.2f} "
              f"{base['max_ms']:>7.2f} | {verdict}")  # fmt: skip
