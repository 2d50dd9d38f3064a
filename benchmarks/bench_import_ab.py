"""A/B of the change-feed import (資格異動): two source trees alternately on one generated feed.

    .venv/bin/python benchmarks/bench_import_ab.py --base-src /work/wt-base/src --new-src src
        [--persons 100000] [--pairs 5] [--order base,new] [--backends sqlite,postgres]

The synthetic prefecture is generated once (as ``bench_register.py`` does). Then each pair
imports it through ``import_feed`` once with each tree, in ``--order``, each run in its own
process (``PYTHONPATH`` the tree's src) and into a fresh database: an SQLite file, or a
PostgreSQL schema. Each run reports wall seconds, the client's CPU (``time.process_time``)
and, on PostgreSQL, the CPU of the server backend that ran the import (utime + stime of
``pg_backend_pid()`` from /proc: the server shares the machine). On a shared machine the wall
time follows the load; the CPU figures vary less, so the summary gives the ratios of each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

POSTGRES = os.environ.get(
    "KOKUHO_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _month(path: Path) -> str:
    match = re.search(r"(\d{4}-\d{2})", str(path))
    return match.group(1) if match else ""


def once(backend: str, data: Path, workdir: Path) -> dict[str, Any]:
    """One import of the feed under ``data`` into a fresh database (run in a child process)."""
    import sqlalchemy as sa

    from kokuho.registry import import_feed, load_insurers
    from kokuho.store import connect

    files = sorted((data / "changes").rglob("*.csv"), key=lambda p: (_month(p), str(p)))
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'ab.db'}"
        for suffix in ("", "-wal", "-shm"):
            Path(str(workdir / "ab.db") + suffix).unlink(missing_ok=True)
    else:
        admin = sa.create_engine(POSTGRES)
        with admin.begin() as connection:
            connection.execute(sa.text('DROP SCHEMA IF EXISTS "bench_import_ab" CASCADE'))
            connection.execute(sa.text('CREATE SCHEMA "bench_import_ab"'))
        admin.dispose()
        url = f"{POSTGRES}?options=-csearch_path%3Dbench_import_ab"
    engine = connect(url)
    load_insurers(engine, data / "insurers.csv")
    backend_pid = None
    if engine.dialect.name == "postgresql":
        # The pool hands the import this same connection (one connection, used in turn).
        with engine.connect() as connection:
            backend_pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    server = _server_cpu(backend_pid)
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    applied = sum(report.applied for report in import_feed(engine, files))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    server = _server_cpu(backend_pid) - server
    if backend_pid is not None:
        with engine.connect() as connection:
            same = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() == backend_pid
        if not same:
            server = float("nan")  # another connection ran the import: its CPU is unknown
    engine.dispose()
    return {
        "seconds": round(seconds, 2),
        "client_cpu": round(cpu, 2),
        "server_cpu": round(server, 2),
        "records_per_s": round(applied / seconds),
        "applied": applied,
        "load1": round(load, 2),
    }


def _server_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(src: str, backend: str, data: Path, workdir: Path) -> dict[str, Any]:
    environment = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    command = [sys.executable, __file__, "--once", backend, str(data), str(workdir)]
    done = subprocess.run(  # noqa: S603 (our own script)
        command, env=environment, capture_output=True, text=True, check=True, timeout=3600
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-src")
    parser.add_argument("--new-src")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--order", default="base,new")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--once", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        backend, data, workdir = args.once
        print(json.dumps(once(backend, Path(data), Path(workdir))))
        return
    if not args.base_src or not args.new_src:
        parser.error("--base-src and --new-src are required")
    from kokuho.synth import generate

    sources = {"base": args.base_src, "new": args.new_src}
    order = args.order.split(",")
    with tempfile.TemporaryDirectory(dir=os.environ.get("KOKUHO_BENCH_DIR")) as tmp:
        workdir = Path(tmp)
        data = workdir / "synth"
        generate(data, seed=1, persons=args.persons, start=dt.date(2020, 4, 1), years=3,
                 checkups=False, claims=False)  # fmt: skip
        results: dict[str, list[dict[str, Any]]] = {}
        for pair in range(1, args.pairs + 1):
            for backend in args.backends.split(","):
                runs = {side: _run(sources[side], backend, data, workdir) for side in order}
                results.setdefault(backend, []).append(runs)
                print(f"pair {pair} {backend}: {json.dumps(runs)}", flush=True)
    if "postgres" in args.backends.split(","):
        import sqlalchemy as sa

        admin = sa.create_engine(POSTGRES)
        with admin.begin() as connection:
            connection.execute(sa.text('DROP SCHEMA IF EXISTS "bench_import_ab" CASCADE'))
        admin.dispose()
    for backend, pairs in results.items():
        summary = {}
        for name in ("seconds", "client_cpu", "total_cpu"):
            ratios = [_figure(p["new"], name) / _figure(p["base"], name) for p in pairs]
            spread = statistics.stdev(ratios) / len(ratios) ** 0.5 if len(ratios) > 1 else 0.0
            summary[name] = {"mean_ratio": round(statistics.mean(ratios), 3),
                             "standard_error": round(spread, 3)}  # fmt: skip
        print(f"{backend} new/base: {json.dumps(summary)}", flush=True)


def _figure(run: dict[str, Any], name: str) -> float:
    if name == "total_cpu":
        return float(run["client_cpu"] + run["server_cpu"])
    return float(run[name])


if __name__ == "__main__":
    main()
