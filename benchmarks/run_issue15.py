"""Issue 15's benchmarks in one sequence (課題15 の再計測), each against its own baseline.

    .venv/bin/python benchmarks/run_issue15.py [--quick] [--reuse-dir /work/bench-cache]
        [--import-1m] [--only checks_sqlite,demo_start] [--skip …] [--dry-run]
        [--out-dir benchmarks/out]

Runs, one after the other (the machine has few cores: nothing overlaps), the commands of
docs/benchmarks.md that give the issue's figures: the check path over HTTP at 1 M and 10 M
persons on SQLite and on PostgreSQL (``bench_checks``, kill test included), the register import
at 100,000 persons on both backends (and at 1 M with ``--import-1m``), the V08 ingest, the
stratification and rates over 10 M checkups, the claims in small files and the demo start.
Each benchmark measures its own baseline in the same run (the constant app, the CSV read, a
bare lxml parse, a column scan, a bare split of the lines); this script adds the load average
(``uptime``) before and after each one, the wall time and the machine.

``--quick`` runs the same sequence at toy sizes, to test the script, not to measure.
A benchmark that fails (exit status, timeout, no JSON) is recorded with its output's tail and
the sequence goes on. Writes ``issue15[-quick]-<UTC time>.json`` and ``.md`` (one table: each
figure, its baseline, its goal, met or missed, figure ÷ goal) into ``--out-dir``.

Full mode, registers reused from ``--reuse-dir``: about 19 minutes on a quiet 2-core machine
(``--dry-run`` prints the plan, the estimate and which registers the folder holds); the
estimates per step come from runs on a loaded machine, scaled. A 10 M register generated
instead adds about 19 (SQLite) and 21 (PostgreSQL) minutes at load 10 (1 M: 2.5 and 3.3),
``--import-1m`` about 20.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # run as a script (benchmarks/ on sys.path) or as benchmarks.run_issue15
    from benchmarks._issue15_figures import Figure, extract, markdown
    from benchmarks._machine import machine
    from benchmarks._register_cache import CacheKey, migration_head, read_ready
except ImportError:
    from _issue15_figures import Figure, extract, markdown  # type: ignore[no-redef]
    from _machine import machine  # type: ignore[no-redef]
    from _register_cache import CacheKey, migration_head, read_ready  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


@dataclass(frozen=True)
class Step:
    """One benchmark command. ``full``/``quick`` are its arguments; ``out`` says whether it
    takes ``--out FILE`` (otherwise its JSON is the last document it prints)."""

    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    estimate_s: int  # full mode, quiet machine, registers reused
    out: bool = True
    timeout_s: int = 3600
    reuse: bool = False  # takes --reuse-dir

    def command(self, quick: bool, out: Path | None, reuse_dir: Path | None) -> list[str]:
        args = list(self.quick if quick else self.full)
        extra: list[str] = []
        if self.out and out is not None:
            extra += ["--out", str(out)]
        if self.reuse and reuse_dir is not None and not quick:
            extra += ["--reuse-dir", str(reuse_dir)]
        # Arguments after "--" belong to the benchmarked command: ours go before them.
        cut = args.index("--") if "--" in args else len(args)
        return [PYTHON, str(HERE / self.script), *args[:cut], *extra, *args[cut:]]


# The paced runs give the latency below saturation (issue 15's p99 goal "at that load").
_CHECKS = ("--duration", "20", "--workers", "2", "--rounds", "1", "--cards", "5000",
           "--kill-duration", "8", "--rate-share", "0.25,0.5")  # fmt: skip
_CHECKS_QUICK = ("--persons", "2000,3000", "--duration", "2", "--warmup", "1", "--workers", "1",
                 "--cards", "50", "--number-bodies", "500", "--kill-duration", "2")  # fmt: skip

STEPS: tuple[Step, ...] = (
    Step("checks_sqlite", "bench_checks.py",
         ("--persons", "1000000,10000000", "--backend", "sqlite", *_CHECKS),
         (*_CHECKS_QUICK, "--backend", "sqlite"), 480, reuse=True),
    Step("checks_postgres", "bench_checks.py",
         ("--persons", "1000000,10000000", "--backend", "postgres", *_CHECKS),
         (*_CHECKS_QUICK, "--backend", "postgres"), 510, reuse=True),
    Step("register_import", "bench_register.py",
         ("--import-persons", "100000", "--lookup-sizes", ""),
         ("--import-persons", "300", "--lookup-sizes", ""), 200),
    Step("v08_ingest", "bench_checkups.py", ("--documents", "5000", "--checkups", "0"),
         ("--documents", "100", "--checkups", "0"), 40),
    Step("checkup_rates", "bench_checkups.py", ("--documents", "0", "--checkups", "10000000"),
         ("--documents", "0", "--checkups", "20000"), 120),
    Step("claims_small_files", "bench_claims.py", ("--lines", "5000000", "--file-lines", "1200"),
         ("--lines", "20000", "--file-lines", "1200"), 100),
    Step("demo_start", "bench_demo_start.py", ("--timeout", "900"),
         ("--timeout", "600", "--", "--persons", "200"), 180, out=False),
)  # fmt: skip
IMPORT_1M = Step("register_import_1m", "bench_register.py",
                 ("--import-persons", "1000000", "--lookup-sizes", ""),
                 ("--import-persons", "600", "--lookup-sizes", ""), 1200)  # fmt: skip


def uptime() -> str:
    """``uptime``'s line (the load average is what a reader of the figures needs)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10,
                              check=False).stdout.strip()  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def last_json(text: str) -> dict[str, Any] | None:
    """The last JSON object printed on its own lines (scripts print logs, then the document)."""
    lines = text.splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].startswith("{"):
            try:
                found = json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                continue
            if isinstance(found, dict):
                return found
    return None


#: Before a full step, wait (at most SETTLE_MAX_S) for the 1-minute load average to fall below
#: SETTLE_LOAD: the previous step's load lingers in it for a minute or two, and the imports'
#: second-process readers (V08, the change feed) only fork when a core is idle by it.
SETTLE_LOAD = 1.0
SETTLE_MAX_S = 150.0


def settle(limit_s: float = SETTLE_MAX_S, load: float = SETTLE_LOAD) -> float:
    """Waits for the machine to quieten; returns the seconds waited."""
    started = time.perf_counter()
    while os.getloadavg()[0] >= load and time.perf_counter() - started < limit_s:
        time.sleep(5)
    return round(time.perf_counter() - started, 1)


def run_step(step: Step, quick: bool, out_dir: Path, stamp: str, reuse_dir: Path | None,
             timeout_scale: float = 1.0) -> dict[str, Any]:  # fmt: skip
    """Runs one benchmark and returns its record; never raises for the benchmark's failure."""
    settled = 0.0 if quick else settle()
    out = out_dir / f"{stamp}-{step.name}.json"
    command = step.command(quick, out, reuse_dir)
    log_path = out_dir / f"{stamp}-{step.name}.log"
    record: dict[str, Any] = {"name": step.name, "command": _shell(command),
                              "settle_seconds": settled, "load_before": uptime(),
                              "log": str(log_path)}  # fmt: skip
    started = time.perf_counter()
    record["started_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    print(f"[{time.strftime('%H:%M:%S')}] {step.name}: {record['command']}", flush=True)
    timeout = step.timeout_s * timeout_scale
    try:
        with log_path.open("w", encoding="utf-8") as log:
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                                  cwd=HERE.parent, check=False)  # fmt: skip
        record["exit_status"] = done.returncode
    except subprocess.TimeoutExpired:
        record["exit_status"] = None
        record["error"] = f"timed out after {timeout:.0f} s"
    except OSError as error:
        record["exit_status"] = None
        record["error"] = f"could not start: {error}"
    record["wall_seconds"] = round(time.perf_counter() - started, 1)
    record["load_after"] = uptime()
    text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    result = _read_json(out) if step.out else last_json(text)
    if "error" not in record and record["exit_status"] != 0:
        record["error"] = f"exit status {record['exit_status']}"
    elif "error" not in record and result is None:
        record["error"] = "no JSON result"
    record["result"] = result
    if "error" in record:
        record["output_tail"] = text[-3000:]
    try:
        figures = extract(step.name, result) if result is not None else []
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as error:
        figures = []
        record["extract_error"] = f"{type(error).__name__}: {error}"
    record["figures"] = [figure.as_dict() for figure in figures]
    status = "ok" if "error" not in record else f"FAILED ({record['error']})"
    print(f"[{time.strftime('%H:%M:%S')}] {step.name}: {status} in {record['wall_seconds']} s; "
          f"{record['load_after']}", flush=True)  # fmt: skip
    return record


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _shell(command: Sequence[str]) -> str:
    """The command as a reader would type it (the venv's python, paths relative to the repo)."""
    root = str(HERE.parent) + "/"
    shown = [".venv/bin/python" if part == PYTHON else part.removeprefix(root) for part in command]
    return " ".join(part if part and " " not in part else repr(part) for part in shown)


def cache_status(steps: Sequence[Step], reuse_dir: Path) -> list[str]:
    """For the dry run: which registers of the checks steps are already in ``reuse_dir``."""
    head = migration_head()
    lines = []
    for step in steps:
        if not step.reuse:
            continue
        args = list(step.full)
        backend = args[args.index("--backend") + 1]
        cards = int(args[args.index("--cards") + 1])
        for persons in args[args.index("--persons") + 1].split(","):
            key = CacheKey("checks", backend, int(persons), cards, head)
            older = [p.name for p in reuse_dir.glob(key.name.rsplit("-m", 1)[0] + "-m*")
                     if p.name != key.name and read_ready(p) is not None]  # fmt: skip
            if read_ready(reuse_dir / key.name) is not None:
                state = "kept: reused"
            elif older:
                state = f"at an older head ({', '.join(older)}): migrated, then reused"
            else:
                state = "missing: generated by the run"
            lines.append(f"{key.name}: {state}")
    return lines


def select(steps: Sequence[Step], only: str, skip: str) -> list[Step]:
    wanted = {s.strip() for s in only.split(",") if s.strip()}
    unwanted = {s.strip() for s in skip.split(",") if s.strip()}
    known = {s.name for s in steps}
    unknown = (wanted | unwanted) - known
    if unknown:
        raise SystemExit(f"unknown step(s) {sorted(unknown)}; known: {sorted(known)}")
    return [s for s in steps if (not wanted or s.name in wanted) and s.name not in unwanted]


def run(steps: Sequence[Step], quick: bool, out_dir: Path, reuse_dir: Path | None,
        runner: Callable[..., dict[str, Any]] = run_step) -> tuple[Path, Path]:  # fmt: skip
    """Runs ``steps`` in order and writes the JSON and the markdown summary; returns both."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = ("issue15-quick-" if quick else "issue15-") + time.strftime("%Y%m%dT%H%M%SZ",
                                                                         time.gmtime())  # fmt: skip
    report: dict[str, Any] = {"mode": "quick" if quick else "full", "machine": machine(),
                              "uptime_at_start": uptime(),
                              "reuse_dir": str(reuse_dir) if reuse_dir else None,
                              "steps": []}  # fmt: skip
    started = time.perf_counter()
    json_path, md_path = out_dir / f"{stamp}.json", out_dir / f"{stamp}.md"
    for step in steps:
        report["steps"].append(runner(step, quick, out_dir, stamp, reuse_dir))
        # Written after every step: a run cut short still leaves what it measured.
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
        report["uptime_at_end"] = uptime()
        json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")  # fmt: skip
        md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="toy sizes: tests the script")
    parser.add_argument("--reuse-dir", type=Path, default=os.environ.get("KOKUHO_BENCH_REUSE_DIR"),
                        help="bench_checks' register cache (full mode)")  # fmt: skip
    parser.add_argument("--import-1m", action="store_true",
                        help="also the register import at 1 M persons (≈ 20 min more)")  # fmt: skip
    parser.add_argument("--only", default="", help="comma-separated step names")
    parser.add_argument("--skip", default="", help="comma-separated step names")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and the estimate")
    parser.add_argument("--out-dir", type=Path, default=HERE / "out")
    args = parser.parse_args(argv)
    steps = select((*STEPS, IMPORT_1M), args.only, args.skip)
    if not args.import_1m and IMPORT_1M.name not in args.only:
        steps = [s for s in steps if s is not IMPORT_1M]
    reuse = args.reuse_dir.resolve() if args.reuse_dir else None
    if args.dry_run:
        for step in steps:
            print(f"{step.estimate_s:>5} s  {_shell(step.command(args.quick, None, reuse))}")
        total = sum(s.estimate_s for s in steps)
        print(f"estimate (full mode, quiet machine, registers reused): {total / 60:.0f} min")
        if reuse and not args.quick:
            print("\n".join(cache_status(steps, reuse)))
        return 0
    json_path, md_path = run(steps, args.quick, args.out_dir, reuse)
    print(md_path.read_text(encoding="utf-8"))
    print(f"written: {json_path} and {md_path}")
    report = json.loads(json_path.read_text(encoding="utf-8"))
    return 1 if any("error" in step for step in report["steps"]) else 0


__all__ = ["Figure", "Step", "last_json", "main", "run", "run_step", "select"]

if __name__ == "__main__":
    sys.exit(main())
