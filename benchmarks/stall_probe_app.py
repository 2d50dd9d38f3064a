"""The service with its event loop's stalls recorded: start this factory instead of
``kokuho.web:create_app`` with ``KOKUHO_BENCH_STALL_LOG`` naming a folder (issue 15, the p99).

    KOKUHO_BENCH_STALL_LOG=/tmp/stalls uvicorn stall_probe_app:create_app --factory \
        --app-dir benchmarks ...
    .venv/bin/python benchmarks/stall_probe_app.py /tmp/stalls   # the histogram, per worker

A task on the loop sleeps 1 ms over and over; every wake-up later than ``LATE_MS`` is a stall,
kept with its wall-clock time and length. Beside them, with their times: every collection of
the garbage collector (``gc.callbacks``), every audit flush of the loop's group commit
(``LoopAuditBatcher._flush``) and every register read (``SqliteReads._rows``) that took longer
than ``SLOW_MS``; each stall is put down to what overlapped it. With
``KOKUHO_BENCH_STALL_SAMPLE=1`` a thread also takes the loop thread's stack once in every
stall longer than ``SAMPLE_MS`` (it wakes every 2 ms: for finding a cause, not for A/B runs,
since its GIL requests perturb the loop). Each worker writes ``stall-PID.json`` when its app
stops (lifespan shutdown).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

LATE_MS = 2.0  # a 1 ms sleep woken this much later is a stall (uvloop's timers are in ms)
SLOW_MS = 1.0  # flushes, reads and collections at least this long are kept
SAMPLE_MS = 6.0
BUCKETS = (2, 5, 10, 20, 50, 100)


class _Probe:
    def __init__(self) -> None:
        #: (end wall time, late ms, and of the stall's wall time: ms on a CPU, ms runnable
        #: but waiting for one, ms blocked)
        self.stalls: list[tuple[float, float, float, float, float]] = []
        self.events: dict[str, list[Any]] = {"gc": [], "flush": [], "read": [],
                                             "checkpoint": []}  # fmt: skip
        self.gc_generations: list[tuple[float, int, float]] = []  # (wall time, generation, ms)
        self.counts: collections.Counter[str] = collections.Counter()
        self.samples: collections.Counter[str] = collections.Counter()
        self.tick = time.perf_counter()
        self.started = time.time()
        self._gc_start = 0.0
        self._gc_sched = (0, 0)

    def slow(self, kind: str, began: float, sched: tuple[int, int] | None = None) -> None:
        took = (time.perf_counter() - began) * 1000
        self.counts[kind] += 1
        if took < SLOW_MS:
            return
        if sched is None:
            self.events[kind].append((time.time(), took))
            return
        ran, waited = _sched(_thread_sched())
        cpu, runq = (ran - sched[0]) / 1e6, (waited - sched[1]) / 1e6
        blocked = max(took - cpu - runq, 0.0)
        self.events[kind].append((time.time(), took, round(cpu, 3), round(runq, 3),
                                  round(blocked, 3)))  # fmt: skip

    def gc_callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_sched = _sched(_thread_sched())
            self._gc_start = time.perf_counter()
        else:
            took = (time.perf_counter() - self._gc_start) * 1000
            if took >= SLOW_MS:
                self.gc_generations.append((time.time(), info["generation"], round(took, 3)))
            self.slow("gc", self._gc_start, self._gc_sched)

    async def monitor(self) -> None:
        # The loop thread's scheduler counters (ns): on a CPU, waiting for one. What a stall
        # spent neither running nor runnable it was blocked (I/O, a lock, a sleep).
        sched = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        try:
            while True:
                before = time.perf_counter()
                ran, waited = _sched(sched)
                await asyncio.sleep(0.001)
                self.tick = now = time.perf_counter()
                late = (now - before - 0.001) * 1000
                self.counts["ticks"] += 1
                if late >= LATE_MS:
                    ran_after, waited_after = _sched(sched)
                    cpu, runq = (ran_after - ran) / 1e6, (waited_after - waited) / 1e6
                    wall = (now - before) * 1000
                    self.stalls.append((time.time(), late, round(cpu, 3), round(runq, 3),
                                        round(max(wall - cpu - runq, 0.0), 3)))  # fmt: skip
        finally:
            os.close(sched)

    def sampler(self, loop_thread: int, stop: threading.Event) -> None:
        taken = 0.0
        while not stop.wait(0.002):
            tick = self.tick
            if (time.perf_counter() - tick) * 1000 < SAMPLE_MS or tick == taken:
                continue
            taken = tick
            frame = sys._current_frames().get(loop_thread)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-6:]
            self.samples[" < ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}"
                                    for f in reversed(stack))] += 1  # fmt: skip

    def dump(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "started": self.started, "stopped": time.time(),
                "stalls": self.stalls, "events": self.events, "counts": dict(self.counts),
                "gc_generations": self.gc_generations,
                "samples": self.samples.most_common(40)}  # fmt: skip


def _sched(fd: int) -> tuple[int, int]:
    """(CPU ns of this thread, ns it waited runnable): the thread's own clock is exact, where
    schedstat's run time moves only at ticks and switches; its wait is complete at a switch."""
    _, waited, _ = os.pread(fd, 128, 0).split()
    return time.thread_time_ns(), int(waited)


_local = threading.local()


def _thread_sched() -> int:
    fd: int | None = getattr(_local, "fd", None)
    if fd is None:
        fd = _local.fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    return fd


def _timed(probe: _Probe, kind: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        sched = _sched(_thread_sched())
        began = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            probe.slow(kind, began, sched)

    return timed


def create_app() -> Any:
    from kokuho.verify import _audit_loop, _sqlite_reads
    from kokuho.web import create_app as service_app

    folder = Path(os.environ["KOKUHO_BENCH_STALL_LOG"])
    folder.mkdir(parents=True, exist_ok=True)
    probe = _Probe()
    gc.callbacks.append(probe.gc_callback)
    batcher = _audit_loop.LoopAuditBatcher
    batcher._flush = _timed(probe, "flush", batcher._flush)  # type: ignore[method-assign]
    reads = _sqlite_reads.SqliteReads
    reads._rows = _timed(probe, "read", reads._rows)  # type: ignore[method-assign]
    try:  # the WAL checkpointer's thread, where there is one
        from kokuho.verify import _wal_checkpoint

        checkpointer = _wal_checkpoint.Checkpointer
        checkpointer._checkpoint = _timed(probe, "checkpoint", checkpointer._checkpoint)  # type: ignore[method-assign]
    except ImportError:
        pass
    app = service_app()
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(target: Any) -> AsyncIterator[None]:
        async with started(target):
            task = asyncio.get_running_loop().create_task(probe.monitor())
            stop = threading.Event()
            if os.environ.get("KOKUHO_BENCH_STALL_SAMPLE") == "1":
                ident = threading.get_ident()
                threading.Thread(target=probe.sampler, args=(ident, stop), daemon=True).start()
            try:
                yield
            finally:
                stop.set()
                task.cancel()
        (folder / f"stall-{os.getpid()}.json").write_text(json.dumps(probe.dump()))

    app.router.lifespan_context = lifespan
    return app


def summarise(rows: list[dict[str, Any]], since: float = 0.0) -> dict[str, Any]:
    """Stalls of the workers' files (after wall time ``since``): per bucket of lateness, how
    many, per minute, and what overlapped them (a collection, an audit flush, a read)."""
    histogram = {f">={low}ms": 0 for low in BUCKETS}
    blocked_histogram = {f">={low}ms": 0 for low in BUCKETS[1:]}
    kinds: collections.Counter[str] = collections.Counter()
    cause: collections.Counter[str] = collections.Counter()
    seconds = 0.0
    events: dict[str, int] = collections.Counter()
    for row in rows:
        seconds += row["stopped"] - max(row["started"], since)
        for kind, kept in row["events"].items():
            kept = [event for event in kept if event[0] >= since]
            events[f"{kind}>={SLOW_MS:g}ms"] += len(kept)
            events[f"{kind}>=5ms"] += sum(1 for event in kept if event[1] >= 5)
            # Of which blocked (I/O, a lock) for 2 / 5 ms or more: not our CPU, not another's.
            events[f"{kind}_blocked>=2ms"] += sum(1 for e in kept if len(e) > 2 and e[4] >= 2)
            events[f"{kind}_blocked>=5ms"] += sum(1 for e in kept if len(e) > 2 and e[4] >= 5)
        for end, late, cpu, runq, blocked in row["stalls"]:
            if end < since:
                continue
            for low in BUCKETS:
                if late >= low:
                    histogram[f">={low}ms"] += 1
            if late < 5:
                continue
            # What most of the stall was: running (our own work), runnable (another
            # process had the CPU), blocked (I/O, a lock).
            most = max((cpu, "cpu"), (runq, "runq"), (blocked, "blocked"))[1]
            kinds[most] += 1
            for low in BUCKETS[1:]:
                if blocked >= low:
                    blocked_histogram[f">={low}ms"] += 1
            begin = end - (late + 1) / 1000
            found = [kind for kind, kept in row["events"].items()
                     if any(begin - 0.0005 <= e[0] <= end + 0.0005 and e[1] >= late / 3
                            for e in kept)]  # fmt: skip
            cause["+".join(sorted(found)) or "unknown"] += 1
    minutes = seconds / 60 or 1.0
    return {"seconds": round(seconds, 1), "stalls": histogram,
            "per_minute": {k: round(v / minutes, 1) for k, v in histogram.items()},
            "blocked": blocked_histogram,
            "blocked_per_minute": {k: round(v / minutes, 1) for k, v in blocked_histogram.items()},
            "stalls_ge_5ms_mostly": dict(kinds),
            "causes_of_stalls_ge_5ms": dict(cause), "slow_events": dict(events)}  # fmt: skip


def main() -> None:
    folder = Path(sys.argv[1])
    rows = [json.loads(path.read_text()) for path in sorted(folder.glob("stall-*.json"))]
    print(json.dumps(summarise(rows), indent=1))
    for row in rows:
        for stack, count in row["samples"][:10]:
            print(row["pid"], count, stack)


if __name__ == "__main__":
    main()
