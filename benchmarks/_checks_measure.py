"""One measurement of bench_checks: a server under wrk, its audit checked afterwards."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks._checks_common import (
    ATTESTATION_WINDOW_S,
    BIN,
    CHECK_ACTIONS,
    HERE,
    WRK_THREADS,
    BenchError,
)
from benchmarks._checks_register import Register, write_card_files
from benchmarks._checks_servers import CpuMeter, Server
from benchmarks._checks_wrk import run_wrk
from kokuho.store import connect
from kokuho.verify import tables as v


def audit_count(url: str) -> int:
    # kokuho's engine (on SQLite it attaches the audit file beside the register), not migrated.
    engine = connect(url, migrate=False)
    try:
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    sa.select(sa.func.count())
                    .select_from(v.audit_log)
                    .where(v.audit_log.c.action.in_(CHECK_ACTIONS))
                )
                or 0
            )
    finally:
        engine.dispose()


def audit_verify(env: dict[str, str]) -> dict[str, Any]:
    kokuho = BIN / "kokuho"
    if not kokuho.exists():
        raise BenchError(f"{kokuho} not found: run from the project's virtualenv")
    started = time.perf_counter()
    done = subprocess.run([str(kokuho), "audit", "verify", "--json"], env=env,
                          capture_output=True, text=True, timeout=1800, check=False)  # fmt: skip
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        report = {"ok": False, "problem": (done.stderr or done.stdout).strip()[-500:]}
    return {"ok": done.returncode == 0 and bool(report.get("ok")), "records": report.get("records"),
            "problem": report.get("problem"),
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


@dataclass
class Options:
    duration: float
    warmup: float
    connections: int
    card_share: float
    stack: list[str]
    max_rps_guess: float
    kill_duration: float


def app_for(kind: str) -> list[str]:
    """uvicorn's app arguments for "service" (the real one), "constant" (the baseline) or
    "constant_db" (the baseline after one round trip to the service's database)."""
    if kind == "service":
        if os.environ.get("KOKUHO_BENCH_GC_LOG"):  # the same service, its GC pauses timed
            return ["gc_probe_app:create_app", "--factory", "--app-dir", str(HERE)]
        return ["kokuho.web:create_app", "--factory"]
    factory = "create_db_app" if kind == "constant_db" else "create_app"
    return [f"constant_app:{factory}", "--factory", "--app-dir", str(HERE)]


def card_bodies_needed(rps: float, share: float, seconds: float) -> int:
    """Per wrk thread, with a margin: three times the expected count (the run may go faster than
    its warm-up, and wrk threads need not share the load evenly)."""
    return math.ceil(rps * 3 * share * seconds / WRK_THREADS) + 200 if share > 0 else 0


def measure(kind: str, reg: Register, workers: int, opts: Options, workdir: Path,
            rng: random.Random) -> dict[str, Any]:  # fmt: skip
    """One warmed-up wrk run against the service or the constant baseline."""
    app = app_for(kind)
    run_dir = workdir / f"run_{reg.persons}_{kind}_{workers}"
    numbers = workdir / f"numbers_{reg.persons}"
    server = Server(kind, app, reg.env, workers, opts.stack, run_dir.with_suffix(".log"))
    try:
        ready = server.wait_ready()
        per_thread = card_bodies_needed(opts.max_rps_guess, opts.card_share, opts.warmup)
        write_card_files(run_dir / "warm", reg, per_thread, rng)
        warm = run_wrk(server.url, numbers, run_dir / "warm", reg.token, opts.card_share,
                       opts.warmup, opts.connections)  # fmt: skip
        per_thread = card_bodies_needed(max(warm["rps"], 200), opts.card_share, opts.duration)
        made = write_card_files(run_dir / "cards", reg, per_thread, rng)
        if made + opts.duration > ATTESTATION_WINDOW_S - 10:
            raise BenchError(f"attestations took {made:.0f} s to make: with --duration "
                             f"{opts.duration:g} the last ones would be stale")  # fmt: skip
        before = audit_count(reg.url) if kind == "service" else 0
        meter = CpuMeter(server.pgid)
        result = run_wrk(server.url, numbers, run_dir / "cards", reg.token, opts.card_share,
                         opts.duration, opts.connections)  # fmt: skip
        result["cpu"] = meter.read(result["requests"])
        result["startup_seconds"] = round(ready, 2)
        result["warmup_rps"] = warm["rps"]
        result["card_bodies_seconds"] = round(made, 2)
        if result["non_2xx"] or warm["non_2xx"]:
            result["server_errors"] = server.error_sample()
    finally:
        server.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    if kind == "service":
        result["audit_new"] = audit_count(reg.url) - before
        result["audit_verify"] = audit_verify(reg.env)
        result["audit_ok"] = (
            result["audit_new"] >= result["ok_2xx"] and result["audit_verify"]["ok"]
        )
    return result
