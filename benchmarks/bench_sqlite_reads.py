"""What a check's SQLite look-up costs, alone and while another connection commits.

    .venv/bin/python benchmarks/bench_sqlite_reads.py [--persons 20000] [--probes 20000]
        [--commit-every-ms 2] [--rounds 3]

A register of ``--persons`` (the check benchmarks' own, ``bench_checks.build_register``),
then the number check's coverage statement (``_check.BY_NUMBER_AND_BRANCH``, compiled by the
SQLite dialect as the service's ``_sqlite_reads`` does) run for ``--probes`` random insured
numbers on one read-only connection of the service's settings (64 MiB page cache, mmap),
measured by the reading thread's own CPU time. Alternated round by round: with no writer,
and while a second connection commits 8 audit-sized rows (into a side table of the same
file) every ``--commit-every-ms``, as the audit's group commit does under load. The ratio
of the two is the cost of the readers' page cache being emptied by every commit (a read
transaction that starts after another connection's commit discards the cache). The thread's
CPU clock advances in scheduler ticks on some kernels (4 ms here), so a round is many
thousands of statements.

Then the whole look-up and decision of a number check on the service's SQLite fast path
(``_check.check_number`` on ``_sqlite_reads.SqliteReads``), the register unchanged meanwhile:
wall time per check, best of ``--rounds``. Run with ``PYTHONPATH=<tree>/src`` for one tree,
then another, to compare two versions of the check.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import sqlite

try:  # run as a script (benchmarks/ on sys.path) or as benchmarks.bench_sqlite_reads
    from benchmarks.bench_checks import build_register
except ImportError:
    from bench_checks import build_register  # type: ignore[no-redef,import-not-found]
import datetime as dt

from kokuho.store import connect
from kokuho.verify._check import BY_NUMBER_AND_BRANCH, check_number
from kokuho.verify._model import NumberQuery
from kokuho.verify._sqlite_reads import SqliteReads

OUT = Path(__file__).resolve().parent / "out"


def _reader(database: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(database, isolation_level=None)
    for pragma in ("cache_size=-65536", "mmap_size=17179869184", "query_only=1"):
        connection.execute(f"PRAGMA {pragma}")
    return connection


class _Writer:
    """Commits 8 rows of about an audit record's size every ``every`` seconds until stopped."""

    def __init__(self, database: Path, every: float) -> None:
        self.connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_side (id INTEGER PRIMARY KEY, t TEXT)"
        )
        self.every = every
        self.commits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rows = [("x" * 300,)] * 8
        while not self._stop.is_set():
            self.connection.execute("BEGIN IMMEDIATE")
            self.connection.executemany("INSERT INTO bench_side (t) VALUES (?)", rows)
            self.connection.execute("COMMIT")
            self.commits += 1
            self._stop.wait(self.every)

    def __enter__(self) -> _Writer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.connection.close()


def _probe(
    connection: sqlite3.Connection, sql: str, keys: list[tuple[Any, ...]], per_transaction: int
) -> float:
    """µs of this thread's CPU per statement over ``keys``: each statement its own read
    transaction (as the service's), or ``per_transaction`` statements in one (a snapshot:
    the page cache is not discarded within it, whatever the writer commits)."""
    started = time.thread_time()
    for index, key in enumerate(keys):
        if per_transaction > 1 and index % per_transaction == 0:
            if connection.in_transaction:
                connection.execute("COMMIT")
            connection.execute("BEGIN")
        connection.execute(sql, key).fetchall()
    if connection.in_transaction:
        connection.execute("COMMIT")
    return (time.thread_time() - started) / len(keys) * 1e6


def _checks(url: str, database: Path, chosen: list[Any], rounds: int) -> float:
    """µs of wall time per ``check_number`` on the SQLite fast path, best of ``rounds``."""
    engine = connect(url)
    reads = SqliteReads(engine, database)
    day = dt.date(2026, 1, 5)
    queries = [NumberQuery(insurer=r[0], symbol=r[1], number=r[2], branch=r[3],
                           birth_date=dt.date.fromisoformat(r[4]), date_of_care=day)
               for r in chosen]  # fmt: skip
    try:
        for query in queries[:500]:
            check_number(reads, query, "3710000001")
        best = float("inf")
        for _ in range(rounds):
            started = time.perf_counter()
            for query in queries:
                check_number(reads, query, "3710000001")
            best = min(best, (time.perf_counter() - started) / len(queries) * 1e6)
        return best
    finally:
        reads.close()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--probes", type=int, default=20_000)
    parser.add_argument("--commit-every-ms", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--statements-per-transaction", type=int, default=1,
        help="more than 1: that many statements in one read transaction",
    )  # fmt: skip
    parser.add_argument(
        "--writer-database",
        choices=("same", "separate"),
        default="same",
        help="separate: the writer commits into a file of its own (the control: "
        "the same thread, the same commits, no change to the register's file)",
    )
    parser.add_argument("--out", type=Path, default=OUT / "sqlite_reads.json")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_sqlite_reads_") as folder:
        reg = build_register(opts.persons, "sqlite", Path(folder), 1, 10)
        database = Path(reg.url.removeprefix("sqlite:///"))
        sql = BY_NUMBER_AND_BRANCH.compile(dialect=sqlite.dialect()).string  # type: ignore[no-untyped-call]
        reader = _reader(database)
        found = reader.execute(
            "SELECT c.insurer_number, c.symbol, c.number, c.branch, p.birth_date "
            "FROM coverages c JOIN persons p USING (person_id)"
        ).fetchall()
        rng = random.Random(1)
        # The statement's parameters in its order: day, institution, insurer, symbol,
        # number, birth, branch.
        chosen = rng.choices(found, k=opts.probes)
        keys = [("2026-01-05", "3710000001", r[0], r[1], r[2], r[4], r[3])
                for r in chosen]  # fmt: skip
        per = opts.statements_per_transaction
        _probe(reader, sql, keys, per)  # warm the cache and the statement
        alone: list[float] = []
        written: list[float] = []
        commits = 0
        for _ in range(opts.rounds):
            alone.append(_probe(reader, sql, keys, per))
            target = database if opts.writer_database == "same" else database.with_suffix(".side")
            with _Writer(target, opts.commit_every_ms / 1000) as writer:
                written.append(_probe(reader, sql, keys, per))
                commits += writer.commits
        reader.close()
        checks = _checks(reg.url, database, chosen, opts.rounds)
    ratio = statistics.median(written) / statistics.median(alone)
    result = {
        "persons": opts.persons, "probes": len(keys), "rounds": opts.rounds,
        "commit_every_ms": opts.commit_every_ms, "writer_commits": commits,
        "writer_database": opts.writer_database,
        "statements_per_transaction": opts.statements_per_transaction,
        "alone_us": [round(x, 1) for x in alone], "with_writer_us": [round(x, 1) for x in written],
        "ratio_with_writer_to_alone": round(ratio, 2),
        "check_number_us_best": round(checks, 1),
    }  # fmt: skip
    print(json.dumps(result))
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {opts.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
