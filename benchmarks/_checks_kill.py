"""bench_checks' kill test: ``kill -9`` of the server half-way through a load run."""

from __future__ import annotations

import datetime as dt
import json
import random
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._checks_measure import Options, audit_count, audit_verify, card_bodies_needed
from benchmarks._checks_register import Register, card_body, write_card_files
from benchmarks._checks_servers import Server
from benchmarks._checks_wrk import finish_wrk, start_wrk


def kill_test(reg: Register, workers: int, opts: Options, workdir: Path, rng: random.Random,
              rps_guess: float) -> dict[str, Any]:  # fmt: skip
    """kill -9 of the server's process group half-way through a load run."""
    run_dir = workdir / f"kill_{reg.persons}"
    numbers = workdir / f"numbers_{reg.persons}"
    app = ["kokuho.web:create_app", "--factory"]
    server = Server("service", app, reg.env, workers, opts.stack, run_dir.with_suffix(".log"))
    result: dict[str, Any] = {"workers": workers, "duration_s": opts.kill_duration}
    try:
        server.wait_ready()
        per_thread = card_bodies_needed(rps_guess, opts.card_share, opts.kill_duration)
        write_card_files(run_dir / "cards", reg, per_thread, rng)
        before = audit_count(reg.url)
        wrk = start_wrk(server.url, numbers, run_dir / "cards", reg.token, opts.card_share,
                        opts.kill_duration, opts.connections)  # fmt: skip
        started = time.monotonic()
        time.sleep(opts.kill_duration / 2)
        server.kill_group(signal.SIGKILL)
        result["killed_at_s"] = round(time.monotonic() - started, 2)
        server.process.wait(timeout=10)
        load = finish_wrk(wrk, opts.kill_duration)
    finally:
        server.stop()
    result.update({k: load[k] for k in ("requests", "ok_2xx", "non_2xx", "status",
                                        "socket_errors")})  # fmt: skip
    result["audit_new"] = audit_count(reg.url) - before
    result["nothing_lost"] = result["audit_new"] >= load["ok_2xx"]
    result["audit_verify"] = audit_verify(reg.env)
    # A restarted server must answer a number check and a card check again.
    server = Server("service", app, reg.env, workers, opts.stack, run_dir.with_suffix(".2.log"))
    try:
        result["restart_seconds"] = round(server.wait_ready(), 2)
        number = json.dumps(next(b for b in reg.numbers if not _unknown(b, reg.persons)))
        status, answer = _post(server.url + "/api/v1/checks/number", number, reg.token)
        result["restart_number_status"] = status
        if status != 200:
            result["restart_number_answer"] = answer
        if reg.card_pems:
            body = card_body(reg.terminal, reg.card_pems[0], dt.datetime.now(dt.UTC))
            status, answer = _post(server.url + "/api/v1/checks/card", body, reg.token)
            result["restart_card_status"] = status
            if status != 200:
                result["restart_card_answer"] = answer
    finally:
        server.stop()
    result["ok"] = bool(
        result["nothing_lost"] and result["audit_verify"]["ok"] and load["ok_2xx"] > 0
        and result["restart_number_status"] == 200
        and result.get("restart_card_status", 200) == 200
    )  # fmt: skip
    return result


def _unknown(body: dict[str, Any], persons: int) -> bool:
    return int(body["number"]) > persons


def _post(url: str, body: str, token: str) -> tuple[int, str]:
    """POSTs one check; returns the status and the start of the answer."""
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status: int = answer.status
            return status, answer.read(300).decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(300).decode(errors="replace")
