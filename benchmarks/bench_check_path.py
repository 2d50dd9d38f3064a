"""In-process ablation guide for the check path: the real app driven through ASGI directly.

    .venv/bin/python benchmarks/bench_check_path.py [--persons 20000] [--backend sqlite]
        [--concurrency 8] [--requests 4000] [--card-share 0.2] [--rounds 3]

No sockets, no HTTP parser, no client: the app (``kokuho.web:create_app``) and the constant
baseline (``constant_app``) each answer the same stream of request bodies from
``--concurrency`` tasks on one event loop (uvloop when importable), alternately, round after
round. Reported per request: CPU of the whole process (every thread) and wall time. Steadier
than ``bench_checks.py`` on a shared machine, it guides choices; the HTTP benchmark is the
figure of record.
"""

from __future__ import annotations

import argparse
import asyncio
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
    from benchmarks.bench_checks import build_register, card_body, drop_schema
except ImportError:
    import constant_app  # type: ignore[no-redef,import-not-found]
    from bench_checks import build_register, card_body, drop_schema  # type: ignore[no-redef,import-not-found]

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


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


async def _drive(app: Asgi, work: list[tuple[str, bytes]], token: str,
                 concurrency: int) -> dict[str, Any]:  # fmt: skip
    statuses: dict[int, int] = {}
    position = 0

    async def worker() -> None:
        nonlocal position
        while position < len(work):
            path, body = work[position]
            position += 1
            status, _ = await _call(app, path, body, token)
            statuses[status] = statuses.get(status, 0) + 1

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_ms": cpu * 1000 / len(work), "wall_ms": wall * 1000 / len(work),
            "statuses": statuses}  # fmt: skip


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
    reg = build_register(opts.persons, opts.backend, workdir, opts.cards, 2000)
    os.environ.update(reg.env)
    from kokuho.web import create_app

    service = create_app()
    stop = await _lifespan(service)
    constant = constant_app.create_app()
    rng = random.Random(1)
    results: dict[str, list[dict[str, Any]]] = {"service": [], "constant": []}
    try:
        await _drive(service, _work(reg, 200, opts.card_share, rng), reg.token, opts.concurrency)
        for _ in range(opts.rounds):
            for kind, app in (("constant", constant), ("service", service)):
                work = _work(reg, opts.requests, opts.card_share, rng)
                run = await _drive(app, work, reg.token, opts.concurrency)
                results[kind].append(run)
                print(kind, json.dumps(run), file=sys.stderr)
    finally:
        await stop()
        drop_schema(reg.schema)
        shutil.rmtree(workdir, ignore_errors=True)
    for kind, runs in results.items():
        cpu = statistics.median(r["cpu_ms"] for r in runs)
        wall = statistics.median(r["wall_ms"] for r in runs)
        print(f"{kind}: CPU {cpu:.3f} ms/request, wall {wall:.3f} ms/request (medians)")
    ratio = statistics.median(r["cpu_ms"] for r in results["constant"]) / statistics.median(
        r["cpu_ms"] for r in results["service"]
    )
    print(f"CPU ratio constant/service: {ratio:.1%}; load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--card-share", type=float, default=0.2)
    parser.add_argument("--cards", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    try:
        import uvloop

        uvloop.run(_main(opts))
    except ImportError:
        asyncio.run(_main(opts))


if __name__ == "__main__":
    main()
