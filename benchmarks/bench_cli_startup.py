"""CLI start-up benchmark (issue 11): ``kokuho`` against a bare ``python -c pass``.

    .venv/bin/python benchmarks/bench_cli_startup.py [--repeat 20]

Runs each command as a user does (the ``kokuho`` console script beside this interpreter), one
at a time, alternating with the bare interpreter so both see the same load, and reports the
median wall time and the median CPU time (user + system, which other work on a shared machine
disturbs less) of each, and their ratios to the bare start. For reference it also times
``python -c "import click"`` (the floor of any click command) and an interpreter that imports
every command module in the table, which is what every command paid before the table made
imports lazy.

Prints and writes JSON to benchmarks/out/cli_startup.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kokuho.cli import COMMANDS

try:  # run as a script (benchmarks/ on sys.path) or as a module of the benchmarks package
    from benchmarks._machine import machine
except ImportError:
    from _machine import machine  # type: ignore[no-redef]

OUT = Path(__file__).parent / "out"
COMMAND_LINES = (
    ("--help",),
    ("--version",),
    ("ids", "check", "insurer", "370015"),
    ("ids", "wareki", "5010501"),
)


def _seconds(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _row(command: str, runs: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "command": command,
        "runs": len(runs),
        "wall_s": statistics.median(wall for wall, _ in runs),
        "cpu_s": statistics.median(cpu for _, cpu in runs),
    }


def _kokuho() -> list[str]:
    script = Path(sys.executable).with_name("kokuho")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from kokuho.cli import main; sys.exit(main())"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--eager-repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT / "cli_startup.json")
    args = parser.parse_args()
    bare = [sys.executable, "-c", "pass"]
    every_module = sorted({f"kokuho.cli.{entry.module}" for entry in COMMANDS.values()})
    eager = [sys.executable, "-c", "import " + ", ".join(every_module)]
    _seconds([*_kokuho(), "--version"])  # warm the file cache and the bytecode
    _seconds(eager)
    click_only = [sys.executable, "-c", "import click"]
    bare_runs: list[tuple[float, float]] = []
    rows: list[dict[str, Any]] = []
    for words in COMMAND_LINES:
        runs = []
        for _ in range(args.repeat):
            bare_runs.append(_seconds(bare))
            runs.append(_seconds([*_kokuho(), *words]))
        rows.append(_row(" ".join(["kokuho", *words]), runs))
    rows.append(
        _row('python -c "import click"', [_seconds(click_only) for _ in range(args.repeat)])
    )
    rows.append(
        _row("import every command module", [_seconds(eager) for _ in range(args.eager_repeat)])
    )
    baseline = _row("python -c pass", bare_runs)
    for row in [baseline, *rows]:
        row["wall_ratio"] = round(row["wall_s"] / baseline["wall_s"], 2)
        row["cpu_ratio"] = round(row["cpu_s"] / baseline["cpu_s"], 2)
        print(
            f"{row['command']}: wall {row['wall_s'] * 1000:.0f} ms ({row['wall_ratio']}×), "
            f"CPU {row['cpu_s'] * 1000:.0f} ms ({row['cpu_ratio']}×)"
        )
    results = {
        "machine": machine(),
        "command": " ".join(["benchmarks/bench_cli_startup.py", *sys.argv[1:]]),
        "bare_python": baseline,
        "commands": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
