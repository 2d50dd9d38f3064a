"""bench_checks' wrk runs (``checks.lua``) and the parsing of their result line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from benchmarks._checks_common import LUA, WRK_THREADS, BenchError

#: A paced run kept up with its offered rate when it achieved at least this share of it.
KEPT_UP_SHARE = 0.97


def pacing(rate: float, threads: int = WRK_THREADS) -> tuple[float, float]:
    """checks.lua's schedule for ``rate`` requests/s over ``threads`` wrk threads: (the interval
    between one thread's sends, the shift between the threads' schedules), in microseconds.
    Each thread sends ``rate / threads`` a second; shifting thread T by T × interval / threads
    spreads the threads' sends evenly instead of in bursts of ``threads``."""
    if rate <= 0:
        raise ValueError(f"a paced rate must be positive, not {rate:g}")
    interval = 1e6 * threads / rate
    return interval, interval / threads


def start_wrk(url: str, numbers: Path, cards: Path, token: str, share: float, seconds: float,
              connections: int, rate: float | None = None) -> subprocess.Popen[str]:  # fmt: skip
    """wrk with checks.lua: closed loop, or paced at ``rate`` requests/s (see ``pacing``)."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "--timeout", "10s", "-s", str(LUA), url, "--", str(numbers), str(cards), token,
               f"{share:g}"]  # fmt: skip
    if rate is not None:
        command += [f"{x:.3f}" for x in pacing(rate)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_wrk(process: subprocess.Popen[str], seconds: float) -> dict[str, Any]:
    try:
        out, err = process.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise BenchError("wrk did not finish in time") from None
    if process.returncode != 0:
        raise BenchError(f"wrk failed ({process.returncode}): {err.strip() or out[-2000:]}")
    line = next((x for x in out.splitlines() if x.startswith('{"kokuho_wrk"')), None)
    if line is None:
        raise BenchError(f"wrk printed no result line:\n{out[-2000:]}\n{err[-2000:]}")
    raw = json.loads(line)["kokuho_wrk"]
    statuses = {int(k): n for k, n in raw["status"].items()}
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    seconds_run = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    sent = raw["sent"]
    total_sent = sent["number"] + sent["card"]
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds_run, 1),
        "rps_2xx": round(ok / seconds_run, 1),
        "p50_ms": round(lat["p50"] / 1000, 2),
        "p90_ms": round(lat["p90"] / 1000, 2),
        "p99_ms": round(lat["p99"] / 1000, 2),
        "p999_ms": round(lat["p999"] / 1000, 2),
        "max_ms": round(lat["max"] / 1000, 2),
        "ok_2xx": ok,
        "non_2xx": sum(n for status, n in statuses.items() if not 200 <= status < 300),
        "status": {str(k): n for k, n in sorted(statuses.items())},
        "validity": raw["validity"],
        "socket_errors": raw["errors"],
        "sent": sent,
        "card_share_sent": round(sent["card"] / total_sent, 3) if total_sent else 0.0,
        "seconds": round(seconds_run, 2),
        # Paced runs only (zero otherwise): the schedule's slots taken and the sends that left
        # more than 2 ms after their slot because no connection was free (the server behind).
        "paced_slots": raw.get("paced", {}).get("slots", 0),
        "late_sends": raw.get("paced", {}).get("late", 0),
    }


def run_wrk(url: str, numbers: Path, cards: Path, token: str, share: float, seconds: float,
            connections: int, rate: float | None = None) -> dict[str, Any]:  # fmt: skip
    process = start_wrk(url, numbers, cards, token, share, seconds, connections, rate)
    return finish_wrk(process, seconds)


def judge_paced(run: dict[str, Any], offered: float) -> dict[str, Any]:
    """A paced run's figures against its offered rate. Below ``KEPT_UP_SHARE`` of the offered
    rate the server fell behind (saturated): the run turned closed loop, and since wrk times a
    request from its send, not from its slot, the latencies leave out the wait before the send
    (coordinated omission) and understate what a client would see."""
    kept_up = run["rps"] >= KEPT_UP_SHARE * offered
    slots = run["paced_slots"]
    return {
        "offered_rps": round(offered, 1),
        "achieved_rps": run["rps"],
        "achieved_share": round(run["rps"] / offered, 3),
        "kept_up": kept_up,
        "saturated": not kept_up,
        "coordinated_omission": not kept_up,
        "late_sends": run["late_sends"],
        "late_share": round(run["late_sends"] / slots, 4) if slots else 0.0,
        **{k: run[k] for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "non_2xx")},
    }
