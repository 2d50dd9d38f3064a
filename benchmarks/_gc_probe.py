"""The garbage collector's pauses in this process: ``gc.callbacks`` timing, per generation.

Used by ``bench_check_path --gc`` (in-process) and by ``gc_probe_app`` (a uvicorn worker of
``bench_checks`` with ``KOKUHO_BENCH_GC_LOG``). Settings are written ``THRESHOLDS:FREEZE``
as the environment's ``KOKUHO_GC_THRESHOLDS`` and ``KOKUHO_GC_FREEZE`` (``python:0``: the
interpreter's own, nothing frozen; ``50000,20,20:1``: the service's default).
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any


class GcPauses:
    """Collections seen while installed: generation, duration (s) and objects collected."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float, int]] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append(
                (info["generation"], time.perf_counter() - self._started, info["collected"])
            )

    def install(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def remove(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def clear(self) -> None:
        self.pauses.clear()

    def summary(self, requests: int) -> dict[str, Any]:
        """Per generation: count, collections per 1,000 requests, p50/p99/max ms, total ms per
        request."""
        out: dict[str, Any] = {}
        for generation in (0, 1, 2):
            times = sorted(d * 1000 for g, d, _ in self.pauses if g == generation)
            if not times:
                out[f"gen{generation}"] = {"count": 0}
                continue
            out[f"gen{generation}"] = {
                "count": len(times),
                "per_1000_requests": round(1000 * len(times) / requests, 2) if requests else 0,
                "p50_ms": round(statistics.median(times), 3),
                "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 3),
                "max_ms": round(times[-1], 3),
                "ms_per_request": round(sum(times) / requests, 4) if requests else 0,
            }
        out["gc_ms_per_request"] = (
            round(sum(d for _, d, _ in self.pauses) * 1000 / requests, 4) if requests else 0
        )
        return out


def parse_setting(spec: str) -> tuple[tuple[int, int, int] | None, bool]:
    """``THRESHOLDS:FREEZE`` -> (thresholds or None for Python's own, freeze)."""
    from kokuho.config import gc_thresholds

    thresholds, _, freeze = spec.partition(":")
    return gc_thresholds(thresholds), freeze.strip() == "1"


def apply_setting(thresholds: tuple[int, int, int] | None, freeze: bool) -> None:
    """Puts this process in the given state, whatever it was in before (rounds alternate)."""
    gc.unfreeze()
    gc.set_threshold(*(thresholds or (700, 10, 10)))
    gc.collect()
    if freeze:
        gc.freeze()
