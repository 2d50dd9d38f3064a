"""A run of change-feed files (資格異動) in one transaction, a SAVEPOINT per file.

Loading a month's files one transaction each paid, per file, a commit, the PostgreSQL advisory
lock, the registered insurers and the top ids read again, and the id sequences set again; the
958 files of the benchmark feed spent more on that than on most of their rows. Here
consecutive files share one transaction: each file is applied inside its own SAVEPOINT, so a
rejected file rolls back to it and leaves nothing, exactly as its own transaction did; the
files before it are committed and the files after it are not read. The transaction is
committed every ``commit_files`` files or ``commit_rows`` rows: a crash (kill -9) loses at most
the uncommitted run, which the next import applies again (every event is found by its id, so
files already committed count as duplicates and change nothing).

A list of files is read ahead by a forked child where a CPU is idle (``_feed_ahead``): the
same reports, events and errors, read on the other CPU while this process applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from kokuho.registry._errors import FileRejected
from kokuho.registry._feed import Start, apply_file, lock
from kokuho.registry._feed_ahead import Reader
from kokuho.registry._feed_lookup import driver
from kokuho.registry._feed_read import ImportReport, collector_paused
from kokuho.registry._feed_write import advance_sequences

#: A run commits after this many files or rows, whichever comes first: what a crash can cost
#: to re-apply, and how long readers wait to see the run.
COMMIT_FILES = 200
COMMIT_ROWS = 100_000


def import_feed(
    engine: sa.Engine,
    paths: Iterable[Path],
    *,
    load_good_rows: bool = False,
    row_by_row: bool = False,
    check: Callable[[Path], None] | None = None,
    commit_files: int = COMMIT_FILES,
    commit_rows: int = COMMIT_ROWS,
) -> Iterator[ImportReport]:
    """Loads change-feed files in the order given, as :func:`import_changes` file by file
    would: the same rows, ``feed_files`` records and reports.

    Yields each file's report once the transaction that holds it is committed (a report
    yielded is a file loaded). At the first rejected file, the files before it are committed
    and yielded, then its FileRejected is raised; later files are not read. ``check`` runs
    on each file before it is read and may reject it (raise FileRejected). Any other error
    rolls back the uncommitted run: its files were not yielded and a later import applies them.
    """
    if commit_files < 1 or commit_rows < 1:
        raise ValueError("commit_files and commit_rows must be at least 1")
    # A list of files is read ahead by a child process (``_feed_ahead``) where that pays;
    # other iterables are read file by file, as they come.
    ahead = paths if isinstance(paths, Sequence) else ()
    reader = Reader(ahead, load_good_rows=load_good_rows, slow=row_by_row)
    try:
        yield from _run(engine, iter(paths), reader, check, commit_files, commit_rows)
    finally:
        reader.close()


def _run(
    engine: sa.Engine,
    files: Iterator[Path],
    reader: Reader,
    check: Callable[[Path], None] | None,
    commit_files: int,
    commit_rows: int,
) -> Iterator[ImportReport]:
    pending = next(files, None)
    with engine.connect() as connection:
        while pending is not None:
            reports: list[ImportReport] = []
            rejected: FileRejected | None = None
            rows = 0
            with connection.begin():
                _begin(connection)
                start = Start.read(connection)
                while pending is not None:
                    path, pending = pending, None
                    try:
                        if check is not None:
                            check(path)
                        with collector_paused():
                            report, events = reader.read(path)
                            with _savepoint(connection):
                                start = apply_file(
                                    connection, report, events, start, reader.load_good_rows,
                                    sequences=False,
                                )  # fmt: skip
                    except FileRejected as error:
                        rejected = error
                        break
                    report.errors.sort(key=lambda e: e.line)
                    reports.append(report)
                    rows += report.rows
                    pending = next(files, None)
                    if len(reports) >= commit_files or rows >= commit_rows:
                        break
                if reports:
                    advance_sequences(connection)
            yield from reports
            if rejected is not None:
                raise rejected


@contextmanager
def _savepoint(connection: sa.Connection) -> Iterator[None]:
    """A file's SAVEPOINT, as ``connection.begin_nested()`` but on the driver's connection:
    SQLAlchemy's pair of statements per file cost ten times the database's work for them.
    Any exception rolls back to it and passes on; should that rollback itself fail, its
    error passes on instead (never a FileRejected after which the run would commit)."""
    cursor = driver(connection).cursor()
    try:
        cursor.execute(_SAVEPOINT)
        try:
            yield
        except BaseException:
            cursor.execute(_ROLLBACK_TO)
            raise
        cursor.execute(_RELEASE)
    finally:
        cursor.close()


_SAVEPOINT = "SAVEPOINT feed_file"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT feed_file"
_RELEASE = "RELEASE SAVEPOINT feed_file"


def _begin(connection: sa.Connection) -> None:
    """Opens the run's transaction for writing. On SQLite an explicit ``BEGIN IMMEDIATE``: the
    driver would otherwise open none before the first file's SAVEPOINT, which SQLite then
    takes for the transaction itself (its RELEASE would commit), and the write lock is taken
    before the register is read."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    lock(connection)
