"""The service with its collector's pauses timed: ``bench_checks`` starts this factory instead
of ``kokuho.web:create_app`` when ``KOKUHO_BENCH_GC_LOG`` names a folder.

    KOKUHO_BENCH_GC_LOG=/tmp/gc .venv/bin/python benchmarks/bench_checks.py ...
    .venv/bin/python benchmarks/gc_probe_app.py /tmp/gc   # the pauses, per worker process

Each worker process writes ``gc-PID.json`` when its app stops (lifespan shutdown: uvicorn ends
on the SIGTERM it caught, so no ``atexit`` runs): every collection's wall-clock time,
generation, pause (ms) and objects collected, from the app's creation on; and ``rss-PID.txt``,
its peak resident memory (KiB); and ``state-PID.json``, the thresholds and frozen count the
started app set.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

try:
    from benchmarks._gc_probe import GcPauses
except ImportError:
    from _gc_probe import GcPauses  # type: ignore[no-redef,import-not-found]


class _TimedPauses(GcPauses):
    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        super()._callback(phase, info)
        if phase == "stop":
            self.at.append(time.time())


def create_app() -> Any:
    from kokuho.web import create_app as service_app

    folder = Path(os.environ["KOKUHO_BENCH_GC_LOG"])
    folder.mkdir(parents=True, exist_ok=True)
    probe = _TimedPauses().install()
    state: dict[str, Any] = {}

    def write() -> None:
        rows = [
            {"at": at, "generation": g, "ms": round(d * 1000, 4), "collected": c}
            for at, (g, d, c) in zip(probe.at, probe.pauses, strict=True)
        ]
        (folder / f"gc-{os.getpid()}.json").write_text(json.dumps(rows))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        (folder / f"rss-{os.getpid()}.txt").write_text(f"{peak}\n")
        (folder / f"state-{os.getpid()}.json").write_text(json.dumps(state))

    app = service_app()
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(target: Any) -> AsyncIterator[None]:
        async with started(target):
            # As the started app left the collector (KOKUHO_GC_THRESHOLDS, KOKUHO_GC_FREEZE).
            state.update(thresholds=gc.get_threshold(), frozen=gc.get_freeze_count())
            yield
        write()

    app.router.lifespan_context = lifespan
    return app


def main() -> None:
    """Per file: collections per generation and their pause distribution."""
    for path in sorted(Path(sys.argv[1]).glob("gc-*.json")):
        rows = json.loads(path.read_text())
        print(path.name, f"{len(rows)} collections")
        for generation in (0, 1, 2):
            times = sorted(r["ms"] for r in rows if r["generation"] == generation)
            if times:
                p50 = times[len(times) // 2]
                p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
                print(f"  gen{generation}: {len(times)}, p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
                      f"max {times[-1]:.3f} ms, total {sum(times):.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
