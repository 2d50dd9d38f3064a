"""bench_checks' server processes (uvicorn or granian in a process group of their own) and
where the machine's CPU went during a run."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks._checks_common import BIN, BenchError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A uvicorn process group of our own; every one started is stopped by ``stop_all``."""

    running: list[Server] = []

    def __init__(self, name: str, app: list[str], env: dict[str, str], workers: int,
                 stack: list[str], log_path: Path) -> None:  # fmt: skip
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        command = server_command(app, self.port, workers, stack)
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pgid = self.process.pid  # start_new_session: the leader's pid is the group id
        Server.running.append(self)

    def wait_ready(self, timeout: float = 120.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with {self.process.returncode} before answering:\n"
                    + self.log_tail()
                )
            health = self.url + "/api/v1/health"
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as answer:
                if answer.status == 200:
                    return time.monotonic() - started
            time.sleep(0.1)
        raise BenchError(f"{self.name} did not answer /api/v1/health in {timeout:.0f} s")

    def kill_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill_group(signal.SIGKILL)
                self.process.wait(timeout=10)
        self.kill_group(signal.SIGKILL)  # workers left behind by a killed supervisor
        self._log.close()
        if self in Server.running:
            Server.running.remove(self)

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def error_sample(self, limit: int = 5) -> list[str]:
        """Distinct exception lines from the server log (uvicorn logs tracebacks)."""
        self._log.flush()
        found: list[str] = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            text = line.strip()
            if ("Error" in text or "Exception" in text) and not text.startswith("File "):
                if text not in found:
                    found.append(text[:300])
                if len(found) >= limit:
                    break
        return found

    @classmethod
    def stop_all(cls) -> None:
        for server in list(cls.running):
            with contextlib.suppress(Exception):
                server.stop()


def server_command(app: list[str], port: int, workers: int, stack: list[str]) -> list[str]:
    """The server's command line: uvicorn, or granian when ``stack`` starts with "granian".
    ``app`` is uvicorn's: the factory, ``--factory`` and optionally ``--app-dir DIR``."""
    if stack[:1] != ["granian"]:
        return [str(BIN / "uvicorn"), *app, "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--log-level", "warning", *stack]  # fmt: skip
    folder = app[app.index("--app-dir") + 1] if "--app-dir" in app else None
    return [str(BIN / "granian"), "--interface", "asgi", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--log-level", "warning",
            *(["--working-dir", folder] if folder else []), *stack[1:], app[0]]  # fmt: skip


def stack_flags(choice: str, env: dict[str, str]) -> tuple[list[str], str]:
    """uvicorn's loop and HTTP parser, always explicit (its ``auto`` would pick them up
    silently)."""
    probe = subprocess.run([sys.executable, "-c", "import uvloop, httptools"], env=env,
                           capture_output=True, timeout=60, check=False)  # fmt: skip
    available = probe.returncode == 0
    if choice == "on" and not available:
        raise BenchError("--fast-stack on: uvloop and httptools are not importable")
    if choice == "on" or (choice == "auto" and available):
        return ["--loop", "uvloop", "--http", "httptools"], "uvloop+httptools"
    return ["--loop", "asyncio", "--http", "h11"], "asyncio+h11"


# -- CPU accounting --------------------------------------------------------------------------


def _stat_fields(stat: Path) -> list[str]:
    """The fields of a /proc/PID/stat after the command's name (which may hold spaces):
    [2] is the process group, [11] and [12] the user and system ticks."""
    return stat.read_text().rsplit(")", 1)[1].split()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one live process (Linux /proc); OSError once it has ended."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _group_user_system_seconds(pgid: int) -> tuple[float, float]:
    """(user, system) CPU of the live processes of a process group (Linux /proc)."""
    user = system = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = _stat_fields(stat)
            if int(fields[2]) == pgid:
                user += int(fields[11])
                system += int(fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return user / tick, system / tick


def _machine_cpu_seconds() -> tuple[float, float]:
    """(all, idle + iowait) CPU seconds of the machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(fields) / os.sysconf("SC_CLK_TCK"), (fields[3] + fields[4]) / os.sysconf(
        "SC_CLK_TCK"
    )


class CpuMeter:
    """Where the machine's CPU went during a run: the server's process group, wrk (a reaped
    child: RUSAGE_CHILDREN), and everything else. On a shared machine "others" tells how much
    of the figure the other work took; ms per request is the figure least moved by it."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.user, self.system = _group_user_system_seconds(pgid)
        self.server = self.user + self.system
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.children = usage.ru_utime + usage.ru_stime
        self.machine = _machine_cpu_seconds()

    def read(self, requests: int) -> dict[str, float]:
        user, system = _group_user_system_seconds(self.pgid)
        user -= self.user
        system -= self.system
        server = user + system
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = usage.ru_utime + usage.ru_stime - self.children
        total, idle = (a - b for a, b in zip(_machine_cpu_seconds(), self.machine, strict=True))
        cores = os.cpu_count() or 1
        wall = total / cores
        busy = total - idle
        return {
            "server_cores": round(server / wall, 2) if wall else 0.0,
            "wrk_cores": round(client / wall, 2) if wall else 0.0,
            "other_cores": round(max(busy - server - client, 0.0) / wall, 2) if wall else 0.0,
            "idle_cores": round(idle / wall, 2) if wall else 0.0,
            "server_ms_per_request": round(1000 * server / requests, 3) if requests else 0.0,
            # The kernel's share (network, page faults, file I/O) of the server's CPU.
            "server_system_share": round(system / server, 3) if server else 0.0,
        }
