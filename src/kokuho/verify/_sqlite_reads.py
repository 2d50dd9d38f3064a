"""The check's look-up on a SQLite register without SQLAlchemy's execution layer (高速参照).

On SQLite a check is a few indexed reads in this process, and SQLAlchemy's per-statement work
(pool checkout, cache-key lookup, parameter processing, the result proxy and its rows) cost
more CPU than the reads themselves. :class:`SqliteReads` runs the very statements of
``_check`` (compiled once by SQLAlchemy's own SQLite dialect, so the SQL cannot drift) on
one plain ``sqlite3`` connection per thread, with SQLAlchemy's own bind and result
processors for the columns that have them (dates), so rows hold the same values.

The connections are read-only (``PRAGMA query_only``): nothing can be written through them.
Each statement runs in its own implicit read transaction, as it does through SQLAlchemy's
``pysqlite`` driver (which begins a transaction only before a write).

Used only for a SQLite file with no read replicas; anything else (PostgreSQL, the read router
and its replicas, an in-memory database) goes through SQLAlchemy as before.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kokuho.store import ReadRouter
from kokuho.verify._audit import sqlite_file

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    #: Per ``?`` in order: the parameter's name, its default (a literal such as LIMIT's) and
    #: the dialect's bind processor (None when the driver takes the value as it is).
    binds: tuple[tuple[str, Any, _Processor], ...]
    row: Any  # a namedtuple class named by the result columns
    #: The result columns that have a processor (dates): their position and processor.
    results: tuple[tuple[int, Callable[[Any], Any]], ...]


def sqlite_reads_for(engine: sa.Engine, reads: ReadRouter) -> SqliteReads | None:
    """Plain reads for ``engine`` when it is a SQLite file read through a router with no
    replicas (the only kind SQLite has); None when reads must go through the router."""
    database = sqlite_file(engine)
    if database is None or reads.primary is not engine or reads.status():
        return None
    return SqliteReads(engine, database)


class SqliteReads:
    """Runs prepared ``_check`` statements on per-thread read-only ``sqlite3`` connections.

    It has the two methods of :class:`sqlalchemy.Connection` that ``_check`` uses
    (``execute(...).all()`` is :meth:`all`, ``scalar``), so the decision code is shared.
    """

    def __init__(self, engine: sa.Engine, database: str) -> None:
        self._dialect = engine.dialect
        self._database = database
        self._local = threading.local()
        self._lock = threading.Lock()
        # Each thread's connection, closed when the thread is gone (thread pools retire idle
        # threads: without this their connections would pile up, one file handle each).
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._prepared: dict[int, tuple[sa.Executable, _Prepared]] = {}
        self._closed = False

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # isolation_level=None: no transaction is ever begun (reads only).
            # check_same_thread=False: close() may come from another thread.
            connection = sqlite3.connect(
                self._database, isolation_level=None, check_same_thread=False, timeout=10
            )
            # The engine's read settings (store/_engine.py); query_only: this connection
            # can never write, whatever it is given.
            connection.execute("PRAGMA query_only=ON")
            connection.execute("PRAGMA mmap_size=17179869184")
            connection.execute("PRAGMA cache_size=-65536")
            with self._lock:
                if self._closed:
                    connection.close()
                    raise RuntimeError("the SQLite reads are closed")
                for thread in [t for t in self._connections if not t.is_alive()]:
                    self._connections.pop(thread).close()
                self._connections[threading.current_thread()] = connection
            self._local.connection = connection
        return connection

    def _prepare(self, statement: sa.Executable) -> _Prepared:
        known = self._prepared.get(id(statement))
        if known is not None and known[0] is statement:
            return known[1]
        compiled = statement.compile(dialect=self._dialect)  # type: ignore[attr-defined]
        defaults = compiled.construct_params(_check=False)
        processors = compiled._bind_processors
        binds = tuple(
            (name, defaults.get(name), processors.get(name)) for name in compiled.positiontup
        )
        columns = compiled._result_columns
        processors = [
            column.type._cached_result_processor(self._dialect, None) for column in columns
        ]
        results = tuple(
            (index, process) for index, process in enumerate(processors) if process is not None
        )
        row = namedtuple("Row", [column.keyname for column in columns])  # type: ignore[misc]  # noqa: PYI024
        prepared = _Prepared(compiled.string, binds, row, results)
        # Keyed by identity and holding the statement: the module-level statements of
        # ``_check`` live as long as the process.
        self._prepared[id(statement)] = (statement, prepared)
        return prepared

    def _rows(self, statement: sa.Executable, params: Mapping[str, Any]) -> list[Any]:
        prepared = self._prepare(statement)
        values = []
        for name, default, process in prepared.binds:
            value = params.get(name, default)
            values.append(process(value) if process is not None and value is not None else value)
        raw = self._connection().execute(prepared.sql, values).fetchall()
        make = prepared.row._make
        results = prepared.results
        if not results:
            return [make(row) for row in raw]
        rows = []
        for row in raw:
            values = list(row)
            for index, process in results:
                if values[index] is not None:
                    values[index] = process(values[index])
            rows.append(make(values))
        return rows

    def all(self, statement: sa.Executable, params: Mapping[str, Any]) -> list[Any]:
        """The rows of ``statement`` (attribute access by column name, as SQLAlchemy's)."""
        return self._rows(statement, params)

    def scalar(self, statement: sa.Executable, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None."""
        rows = self._rows(statement, params)
        return rows[0][0] if rows else None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, {}
        for connection in connections.values():
            connection.close()
