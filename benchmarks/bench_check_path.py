"""In-process ablation guide for the check path: the real app driven through ASGI directly.

    .venv/bin/python benchmarks/bench_check_path.py [--persons 20000] [--backend sqlite]
        [--concurrency 8] [--requests 4000] [--card-share 0.2] [--rounds 3]
        [--gc python:0 50000,20,20:1 ...]

No sockets, no HTTP parser, no client: the app (``kokuho.web:create_app``) and the constant
baseline (``constant_app``) each answer the same stream of request bodies from
``--concurrency`` tasks on one event loop (uvloop when importable), alternately, round after
round. Reported per request: CPU of the whole process (every thread) and wall time. Steadier
than ``bench_checks.py`` on a shared machine, it guides choices; the HTTP benchmark is the
figure of record.

On PostgreSQL also the database server's CPU per request: the run's connections carry an
``application_name`` of their own (``PGAPPNAME``), and their backends' user and system time
are read from ``/proc`` before and after each run (the WAL writer's and the checkpointer's
are not counted: other work on the server shares them). And the audit batches: how many
commits the run made, and how many records each carried.

``--gc SETTING ...`` alternates the service's rounds over collector settings, written
``THRESHOLDS:FREEZE`` as ``KOKUHO_GC_THRESHOLDS`` and ``KOKUHO_GC_FREEZE`` (``python:0``: the
interpreter's own and nothing frozen), applied in this process before each round; every
collection's pause is timed (``gc.callbacks``) and reported per generation and setting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

try:  # run as a script (benchmarks/ on sys.path) or as benchmarks.bench_check_path
    from benchmarks import constant_app
    from benchmarks._checks_common import POSTGRES
    from benchmarks._gc_probe import GcPauses, apply_setting, parse_setting
    from benchmarks.bench_checks import build_register, card_body, drop_schema
except ImportError:
    import constant_app  # type: ignore[no-redef,import-not-found]
    from _checks_common import POSTGRES  # type: ignore[no-redef,import-not-found]
    from _gc_probe import (  # type: ignore[no-redef,import-not-found]
        GcPauses,
        apply_setting,
        parse_setting,
    )
    from bench_checks import build_register, card_body, drop_schema  # type: ignore[no-redef,import-not-found]
# Either way bench_checks has put the repository on sys.path.
from benchmarks._checks_servers import process_cpu_seconds

_POSTGRES = POSTGRES.replace("+psycopg", "")  # a libpq URL

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
_APP_NAME = f"bench_check_path_{os.getpid()}"


async def _call(app: Asgi, path: str, body: bytes, token: str) -> tuple[int, bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {token}".encode()),
                    (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 0
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def _lifespan(app: Asgi) -> Callable[[], Awaitable[None]]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.ensure_future(app({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    await outbox.get()

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return stop


def _backend_cpu() -> dict[int, float]:
    """CPU seconds (user and system) of every backend serving this process's connections."""
    import psycopg

    with psycopg.connect(_POSTGRES, application_name="bench_check_path_probe") as probe:
        pids = [row[0] for row in probe.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (_APP_NAME,)
        )]  # fmt: skip
    cpu = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # the backend ended meanwhile
            cpu[pid] = process_cpu_seconds(pid)
    return cpu


class _Batches:
    """Counts the PostgreSQL audit batches (commits) and their records, by wrapping
    ``PgLoopAuditBatcher._append``."""

    def __init__(self) -> None:
        from kokuho.verify import _audit_pg

        self.commits = self.records = 0
        self.pids: set[int] = set()  # the audit connections' backends
        append = _audit_pg.PgLoopAuditBatcher._append
        counts = self

        async def counted(batcher: Any, batch: list[Any]) -> Any:
            result = await append(batcher, batch)
            counts.pids.add(batcher._connection.info.backend_pid)
            counts.commits += 1
            counts.records += len(batch)
            return result

        _audit_pg.PgLoopAuditBatcher._append = counted  # type: ignore[method-assign]


async def _drive(app: Asgi, work: list[tuple[str, bytes]], token: str,
                 concurrency: int, batches: _Batches | None = None) -> dict[str, Any]:  # fmt: skip
    statuses: dict[int, int] = {}
    position = 0

    async def worker() -> None:
        nonlocal position
        while position < len(work):
            path, body = work[position]
            position += 1
            status, _ = await _call(app, path, body, token)
            statuses[status] = statuses.get(status, 0) + 1

    server = _backend_cpu() if batches is not None else {}
    commits, records = (batches.commits, batches.records) if batches else (0, 0)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    run = {"cpu_ms": cpu * 1000 / len(work), "wall_ms": wall * 1000 / len(work),
           "statuses": statuses}  # fmt: skip
    if batches is not None:
        after = _backend_cpu()
        used = sum(seconds - server.get(pid, 0.0) for pid, seconds in after.items())
        run["server_cpu_ms"] = used * 1000 / len(work)
        audit = sum(after[p] - server.get(p, 0.0) for p in batches.pids if p in after)
        run["server_audit_cpu_ms"] = audit * 1000 / len(work)
        run["commits_per_request"] = (batches.commits - commits) / len(work)
        run["records_per_commit"] = (batches.records - records) / max(1, batches.commits - commits)
    return run


def _work(reg: Any, count: int, share: float, rng: random.Random) -> list[tuple[str, bytes]]:
    now = dt.datetime.now(dt.UTC)
    work = []
    for index in range(count):
        if reg.card_pems and (index * share) % 1 + share >= 1:
            body = card_body(reg.terminal, rng.choice(reg.card_pems), now).encode()
            work.append(("/api/v1/checks/card", body))
        else:
            number = rng.choice(reg.numbers)
            work.append(("/api/v1/checks/number", json.dumps(number).encode()))
    return work


async def _main(opts: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench_check_path_"))
    if opts.backend == "postgres":
        os.environ["PGAPPNAME"] = _APP_NAME  # libpq's default application_name
    reg = build_register(opts.persons, opts.backend, workdir, opts.cards, 2000)
    os.environ.update(reg.env)
    from kokuho.web import create_app

    service = create_app()
    stop = await _lifespan(service)
    constant = constant_app.create_app()
    batches = _Batches() if opts.backend == "postgres" else None
    rng = random.Random(1)
    settings = opts.gc or [""]  # "": as the app's lifespan left the collector
    kinds = [("constant", constant, "")] + [(f"service {s}".strip(), service, s) for s in settings]
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind, _, _ in kinds}
    probe = GcPauses().install()
    try:
        await _drive(service, _work(reg, 200, opts.card_share, rng), reg.token, opts.concurrency)
        for round_ in range(opts.rounds):
            # Each round in another order: the first setting must not always follow the constant.
            shift = round_ % len(settings)
            ordered = kinds[:1] + kinds[1:][shift:] + kinds[1:][:shift]
            for kind, app, setting in ordered:
                if setting:
                    apply_setting(*parse_setting(setting))
                work = _work(reg, opts.requests, opts.card_share, rng)
                probe.clear()
                counted = batches if app is service else None
                run = await _drive(app, work, reg.token, opts.concurrency, counted)
                if opts.gc:
                    run["gc"] = probe.summary(len(work))
                results[kind].append(run)
                print(kind, json.dumps(run), file=sys.stderr)
    finally:
        probe.remove()
        await stop()
        drop_schema(reg.schema)
        shutil.rmtree(workdir, ignore_errors=True)
    for kind, runs in results.items():
        cpu = statistics.median(r["cpu_ms"] for r in runs)
        wall = statistics.median(r["wall_ms"] for r in runs)
        print(f"{kind}: CPU {cpu:.3f} ms/request, wall {wall:.3f} ms/request (medians)")
        if runs and "server_cpu_ms" in runs[0]:
            server = statistics.median(r["server_cpu_ms"] for r in runs)
            audit = statistics.median(r["server_audit_cpu_ms"] for r in runs)
            commits = statistics.median(r["commits_per_request"] for r in runs)
            size = statistics.median(r["records_per_commit"] for r in runs)
            print(
                f"{kind}: database server CPU {server:.3f} ms/request ({audit:.3f} the audit's), "
                f"{commits:.3f} audit commits/request ({size:.1f} records each) (medians)"
            )
        if "gc" in runs[0]:
            print(f"  gc, last round: {json.dumps(runs[-1]['gc'])}")
    constant_cpu = statistics.median(r["cpu_ms"] for r in results["constant"])
    for kind, _, _ in kinds[1:]:
        ratio = constant_cpu / statistics.median(r["cpu_ms"] for r in results[kind])
        print(f"CPU ratio constant/{kind}: {ratio:.1%}")
    if len(settings) > 1:  # per round, the same round's first setting over each other one
        first = results[kinds[1][0]]
        for kind, _, _ in kinds[2:]:
            ratios = [a["cpu_ms"] / b["cpu_ms"] for a, b in zip(first, results[kind], strict=True)]
            print(f"CPU {kinds[1][0]} / {kind}: median {statistics.median(ratios):.3f} "
                  f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)})")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--card-share", type=float, default=0.2)
    parser.add_argument("--cards", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gc", nargs="*", default=[], metavar="THRESHOLDS:FREEZE",
                        help="alternate the service over these collector settings, e.g. "
                        "python:0 50000,20,20:1")  # fmt: skip
    opts = parser.parse_args()
    try:
        import uvloop

        uvloop.run(_main(opts))
    except ImportError:
        asyncio.run(_main(opts))


if __name__ == "__main__":
    main()
