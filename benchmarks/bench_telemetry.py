"""FastAPI's native OpenTelemetry check on every request, on and off (``KOKUHO_TELEMETRY``).

The constant baseline app (``constant_app``: the service's route class answering a constant,
no database) is built twice, with FastAPI's default telemetry (on: every request asks the
OpenTelemetry API for the global tracer, meter and logger providers, which kokuho never
configures) and with ``TELEMETRY_OFF`` (create_app's default), and both are driven in
process through ASGI, alternately, round after round. Printed and saved
(``benchmarks/out/telemetry.json``): the CPU a request of each, their difference, and the
check itself timed alone (``NativeTelemetry.enabled``)::

    .venv/bin/python benchmarks/bench_telemetry.py --requests 20000 --rounds 6
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import timeit
from pathlib import Path
from typing import Any

try:  # run as a script (benchmarks/ on sys.path) or as benchmarks.bench_telemetry
    from benchmarks import bench_check_path, constant_app
except ImportError:
    import bench_check_path  # type: ignore[no-redef,import-not-found]
    import constant_app  # type: ignore[no-redef,import-not-found]
from fastapi import FastAPI

_BODY = json.dumps({"insurer_number": "06370019", "symbol": "12", "number": "1001",
                    "branch": "01", "birth_date": "1970-05-15", "date_of_care": "2020-12-01",
                    "purpose": "care"}).encode()  # fmt: skip


def _apps() -> dict[str, FastAPI]:
    off = constant_app.create_app()
    saved = constant_app.TELEMETRY_OFF
    constant_app.TELEMETRY_OFF = None  # FastAPI's default
    try:
        on = constant_app.create_app()
    finally:
        constant_app.TELEMETRY_OFF = saved
    return {"on": on, "off": off}


def _enabled_us(app: FastAPI, number: int = 100_000) -> float:
    check = app._native_telemetry.enabled  # noqa: SLF001 - the very check being measured
    return timeit.timeit(check, number=number) / number * 1e6


async def _measure(requests: int, rounds: int, concurrency: int) -> dict[str, Any]:
    apps = _apps()
    work = [("/api/v1/checks/number", _BODY)] * requests
    runs: dict[str, list[float]] = {"on": [], "off": []}
    for index in range(rounds):
        order = ("on", "off") if index % 2 == 0 else ("off", "on")
        for name in order:
            run = await bench_check_path._drive(apps[name], work, "t", concurrency)  # noqa: SLF001
            assert run["statuses"] == {200: requests}, run["statuses"]
            runs[name].append(run["cpu_ms"] * 1000)
    on, off = statistics.median(runs["on"]), statistics.median(runs["off"])
    return {
        "requests": requests, "rounds": rounds, "concurrency": concurrency,
        "cpu_us_per_request": runs, "median_on_us": on, "median_off_us": off,
        "saved_us": on - off, "off_over_on": off / on,
        "enabled_check_us": {name: _enabled_us(app) for name, app in apps.items()},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=16)
    opts = parser.parse_args(argv)
    result = asyncio.run(_measure(opts.requests, opts.rounds, opts.concurrency))
    print(f"constant app, CPU a request (median of {opts.rounds}): telemetry on "
          f"{result['median_on_us']:.1f} µs, off {result['median_off_us']:.1f} µs; "
          f"off ÷ on {result['off_over_on']:.3f} ({result['saved_us']:.1f} µs saved)")  # fmt: skip
    enabled = result["enabled_check_us"]
    print(f"NativeTelemetry.enabled alone: on {enabled['on']:.2f} µs, off {enabled['off']:.2f} µs")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "telemetry.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
