"""Demo start (issue 15 item 6): seconds from starting ``kokuho demo`` (what ``make demo`` runs
once the venv is installed) to the first HTTP 200 of the dashboard's login page.

    .venv/bin/python benchmarks/bench_demo_start.py [--runs 1] [--timeout 600] [-- DEMO ARGS]

Each run starts ``kokuho demo --port P`` in a fresh temporary ``KOKUHO_HOME`` (SQLite, the
embedded default), polls ``http://127.0.0.1:P/login`` every 0.2 s, records the seconds to
the first 200, then stops the process group it started. At that moment it also reads the CPU
seconds the demo's process used itself (its critical path: the register loads there) and its
children (the synth's fork, the second process; reaped or still live), which on a shared
machine say more than the wall-clock seconds. The machine's load average (1 min)
before and after each run is recorded: on a shared machine it says how far to trust the
figure. Extra arguments after ``--`` go to ``kokuho demo`` (``-- --generate`` measures the
generating path). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

KOKUHO = Path(sys.executable).parent / "kokuho"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            status: int = answer.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _stat(path: Path) -> list[str]:
    # The fields after "pid (comm)": comm may hold spaces.
    return path.read_text().rsplit(")", 1)[1].split()


def _cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of the demo's process itself and of its children: those
    reaped (cutime, cstime) and those of its process group still alive (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    own = _stat(Path(f"/proc/{pid}/stat"))
    children = int(own[13]) + int(own[14])
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = _stat(stat)
            if int(fields[2]) == pid and stat.parent.name != str(pid):
                children += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
    return {
        "demo_process": round((int(own[11]) + int(own[12])) / tick, 1),
        "children": round(children / tick, 1),
    }


def one_run(extra: list[str], timeout: float) -> dict[str, Any]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="kokuho-demo-") as home:
        env = {k: v for k, v in os.environ.items() if k != "KOKUHO_DATABASE_URL"}
        env["KOKUHO_HOME"] = home
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(KOKUHO), "demo", "--port", str(port), *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one below
        )
        seconds: float | None = None
        cpu: dict[str, float] | None = None
        try:
            url = f"http://127.0.0.1:{port}/login"
            while time.perf_counter() - started < timeout:
                if process.poll() is not None:
                    break
                if _status(url) == 200:
                    seconds = time.perf_counter() - started
                    cpu = _cpu_seconds(process.pid)
                    break
                time.sleep(0.2)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                output, _ = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                output, _ = process.communicate()
        if seconds is None:
            tail = output.decode(errors="replace")[-2000:]
            raise SystemExit(f"the demo did not serve /login within {timeout} s:\n{tail}")
        # The demo's own line "seconds: synth 30.1, import 12.0, …": where the time went.
        stages = next(
            (line.removeprefix("seconds: ") for line in output.decode(errors="replace").splitlines()
             if line.startswith("seconds: ")),
            None,
        )  # fmt: skip
        return {
            "seconds_to_login_200": round(seconds, 1),
            "stages": stages,
            "cpu_seconds": cpu,
            "load_average_1min_before": round(load_before, 2),
            "load_average_1min_after": round(os.getloadavg()[0], 2),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("demo_args", nargs="*", help="arguments for kokuho demo (after --)")
    args = parser.parse_args()
    runs = [one_run(args.demo_args, args.timeout) for _ in range(args.runs)]
    result = {
        "benchmark": "demo start (kokuho demo → first 200 of /login)",
        "demo_args": args.demo_args,
        "cpus": os.cpu_count(),
        "runs": runs,
        "best_seconds": min(r["seconds_to_login_200"] for r in runs),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
