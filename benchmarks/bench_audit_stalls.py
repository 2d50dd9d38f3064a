"""The audit group commit's stalls of the event loop, without HTTP: two code trees alternated.

    .venv/bin/python benchmarks/bench_audit_stalls.py --rate 1200 --seconds 20 --rounds 3 \
        --sides main=/work/main/src,branch=src

Per round and side (in turn), a fresh process with that side's ``src`` first on ``PYTHONPATH``
makes a new SQLite register (``kokuho.store.connect``) and, on one asyncio loop, hands it
``--rate`` audit records a second through ``AuditWriter.write_async`` (the loop's group commit,
as a check does), each awaited by its own task, while a task sleeps 1 ms over and over. Reported:
every audit flush (``LoopAuditBatcher._flush``) and every 1 ms sleep woken late, split by the
loop thread's scheduler counters into time running, runnable and blocked (I/O, a lock) — the
blocked part is what the flushes' fsyncs cost the loop, whatever else the machine runs — and
the records' commit latency (submit to committed). Medians over the rounds per side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _sched(fd: int) -> tuple[int, int]:
    """(CPU ns of this thread, ns it waited runnable): the thread's own clock is exact, where
    schedstat's run time moves only at ticks and switches; its wait is complete at a switch."""
    _, waited, _ = os.pread(fd, 128, 0).split()
    return time.thread_time_ns(), int(waited)


def inner(rate: float, seconds: float) -> dict[str, Any]:
    """One side's run in this process (``PYTHONPATH`` chose the code)."""
    from kokuho.store import connect
    from kokuho.verify import _audit_loop
    from kokuho.verify._audit import AuditRecord, AuditWriter

    fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    flushes: list[tuple[float, float, float]] = []  # wall ms, running ms, blocked ms
    original = _audit_loop.LoopAuditBatcher._flush

    def flush(self: Any) -> None:
        ran, waited = _sched(fd)
        began = time.perf_counter()
        original(self)
        took = (time.perf_counter() - began) * 1e3
        ran2, waited2 = _sched(fd)
        cpu, runq = (ran2 - ran) / 1e6, (waited2 - waited) / 1e6
        flushes.append((took, cpu, max(took - cpu - runq, 0.0)))

    _audit_loop.LoopAuditBatcher._flush = flush  # type: ignore[method-assign]
    folder = Path(tempfile.mkdtemp(prefix="audit_stalls_"))
    engine = connect(f"sqlite:///{folder / 'kokuho.db'}")
    writer = AuditWriter(engine)
    stalls: list[tuple[float, float]] = []  # late ms, blocked ms
    latencies: list[float] = []

    async def one(number: int) -> None:
        began = time.perf_counter()
        record = AuditRecord(
            actor="kc_0123456789abcdef", institution_code="3710112347", purpose="care",
            action="check_number", outcome="1", person_id=1 + number % 1_000_000,
            detail={"asked": {"insurer": "39123456", "number": f"{number:08d}"},
                    "returned": {"validity": 1, "results": 1, "limit_shown": False}},
        )  # fmt: skip
        await writer.write_async(record)
        latencies.append((time.perf_counter() - began) * 1e3)

    async def monitor(stop: asyncio.Event) -> None:
        while not stop.is_set():
            before = time.perf_counter()
            ran, waited = _sched(fd)
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            late = (now - before - 0.001) * 1e3
            if late >= 2:
                ran2, waited2 = _sched(fd)
                wall = (now - before) * 1e3
                cpu, runq = (ran2 - ran) / 1e6, (waited2 - waited) / 1e6
                stalls.append((late, max(wall - cpu - runq, 0.0)))

    async def main() -> None:
        stop = asyncio.Event()
        watcher = asyncio.create_task(monitor(stop))
        tasks: set[asyncio.Task[None]] = set()
        started = time.perf_counter()
        sent = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            while sent < rate * elapsed:  # paced: the records due by now
                task = asyncio.create_task(one(sent))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.001)
        await asyncio.gather(*tasks)
        stop.set()
        await watcher

    asyncio.run(main())
    wal = folder / "kokuho.db-wal"
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    writer.close()
    engine.dispose()
    latencies.sort()
    return {
        "records": len(latencies),
        "flushes": len(flushes),
        "flush_blocked_ge_2ms": sum(1 for f in flushes if f[2] >= 2),
        "flush_blocked_ge_5ms": sum(1 for f in flushes if f[2] >= 5),
        "flush_blocked_ms_total": round(sum(f[2] for f in flushes), 1),
        "flush_max_ms": round(max(f[0] for f in flushes), 2),
        "stalls_ge_5ms": sum(1 for s in stalls if s[0] >= 5),
        "stalls_blocked_ge_5ms": sum(1 for s in stalls if s[1] >= 5),
        "commit_p50_ms": round(latencies[len(latencies) // 2], 3),
        "commit_p99_ms": round(latencies[int(len(latencies) * 0.99)], 3),
        "commit_max_ms": round(latencies[-1], 3),
        "wal_bytes": wal_bytes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sides", default=f"main=/work/main/src,branch={HERE.parent / 'src'}")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(inner(args.rate, args.seconds)))
        return 0
    sides = dict(pair.split("=", 1) for pair in args.sides.split(","))
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for index in range(args.rounds):
        for side, src in sides.items():
            env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
            command = [sys.executable, __file__, "--inner", "--rate", str(args.rate),
                       "--seconds", str(args.seconds)]  # fmt: skip
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            runs[side].append(run)
            print(f"round {index} {side}: {run}", flush=True)
    summary = {
        side: {key: statistics.median(run[key] for run in side_runs) for key in side_runs[0]}
        for side, side_runs in runs.items()
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
