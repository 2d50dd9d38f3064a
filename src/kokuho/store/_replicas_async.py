"""The read router's choices run over psycopg's async connections, on the event loop.

A :class:`~kokuho.store._replicas.ReadRouter` decides which server may answer a read (a
replica fresh within the lag bound, else the primary; a replica that fails is set aside; a
primary that fails sends the read to the replicas judged against its last sighting). Its
probe thread keeps measuring freshness as before. :class:`AsyncReads` asks the router for
those choices and runs the read itself on a ``psycopg.AsyncConnection`` of the chosen server:
a request served on the event loop then waits for the database without a thread hand-off
and without SQLAlchemy's per-statement machinery (the eligibility check's look-up, about half
of a PostgreSQL check's CPU when it ran in a thread).

Connections are in autocommit mode (each read statement is its own snapshot, as under READ
COMMITTED in a transaction, without the BEGIN and ROLLBACK round trips), use generic plans
for their prepared statements, and belong to the event loop that opened them; each loop
keeps up to 16 per server, open or idle.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa

from kokuho.store._replicas import ReadRouter, Replica

T = TypeVar("T")
#: What a server that does not answer raises (psycopg's own, under SQLAlchemy's UNREACHABLE).
UNREACHABLE_ASYNC = (psycopg.OperationalError, psycopg.InterfaceError)
_OPEN = 16  # connections a loop opens per server at most (the sync pools' 8 + 8 overflow)
_CONNECT_TIMEOUT = 3  # seconds: a stopped server must fail a connect quickly (as _app's)

AsyncRead = Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]


def connect_kwargs(engine: sa.Engine) -> dict[str, Any]:
    """psycopg's connection arguments for ``engine``'s server, as its dialect makes them
    (host, port, user, password, database, ``options`` such as a search path)."""
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs.setdefault("connect_timeout", _CONNECT_TIMEOUT)
    return dict(kwargs)


class _Server:
    """One server's connections on one loop: at most ``_OPEN`` at a time (as the sync pools'
    size and overflow); a read that finds them all busy waits for one, rather than opening
    and closing connections as the load comes and goes."""

    __slots__ = ("idle", "kwargs", "open", "waiting")

    def __init__(self, engine: sa.Engine) -> None:
        self.kwargs = connect_kwargs(engine)
        # Every read here is a key look-up, its plan the same for any key: a generic plan,
        # made once per connection. Left to choose, the server plans a batched look-up
        # (store/_read_batch.py) anew at each execution: its custom plans, for the arrays'
        # known lengths, look cheaper than the generic one, and planning cost ~3 times the
        # look-ups themselves.
        options = f"{self.kwargs.get('options', '')} -c plan_cache_mode=force_generic_plan"
        self.kwargs["options"] = options.strip()
        self.idle: list[psycopg.AsyncConnection[Any]] = []
        self.open = 0
        self.waiting: deque[asyncio.Future[psycopg.AsyncConnection[Any] | None]] = deque()

    async def take(self) -> tuple[psycopg.AsyncConnection[Any], bool]:
        """An idle connection (and True) or a new one (and False)."""
        while True:
            while self.idle:
                connection = self.idle.pop()
                if not connection.closed:
                    return connection, True
                self.open -= 1
            if self.open < _OPEN:
                break
            waiter = asyncio.get_running_loop().create_future()
            self.waiting.append(waiter)
            try:
                handed = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                    self.give_back(waiter.result())
                raise
            if handed is not None:
                return handed, True
            # None: a connection was closed, so one may be opened now.
        self.open += 1
        try:
            connection = await psycopg.AsyncConnection.connect(
                autocommit=True, prepare_threshold=0, **self.kwargs
            )
        except BaseException:
            self.gone()
            raise
        return connection, False

    def give_back(self, connection: psycopg.AsyncConnection[Any]) -> None:
        if connection.closed:
            self.gone()
            return
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self.idle.append(connection)

    def gone(self) -> None:
        """A connection was closed: a waiting read may open another."""
        self.open -= 1
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def drop(self, connection: psycopg.AsyncConnection[Any]) -> None:
        _finish(connection)
        self.gone()

    def discard(self) -> None:
        """Drops every idle connection (the server went away: they are dead too)."""
        for connection in self.idle:
            self.drop(connection)
        self.idle.clear()


def _finish(connection: psycopg.AsyncConnection[Any]) -> None:
    # Closes the socket without the loop: a connection may outlive its loop (tests, shutdown).
    connection.pgconn.finish()


class AsyncReads:
    """Runs reads where ``router`` would run them, on async connections of the running loop."""

    def __init__(self, router: ReadRouter) -> None:
        if router.primary.dialect.name != "postgresql":
            raise ValueError("async reads need a PostgreSQL primary")
        self.router = router
        self._loops: dict[asyncio.AbstractEventLoop, dict[str, _Server]] = {}

    async def run(self, read: AsyncRead[T]) -> T:
        """Runs ``read`` (read-only) on a fresh replica, else on the primary, with the sync
        router's semantics (``ReadRouter.run``) and counted in its ``served``."""
        servers = self._servers()
        router = self.router
        if not router._replicas:
            return await self._on(servers, "primary", router.primary, read)
        done, result = await self._on_replicas(servers, read)
        if done:
            return result  # type: ignore[return-value]
        try:
            result = await self._on(servers, "primary", router.primary, read)
        except UNREACHABLE_ASYNC:
            # The primary went away between probes: judge the replicas against its last
            # sighting now rather than fail this read.
            with router._lock:
                router._primary_up = False
            done, result = await self._on_replicas(servers, read)
            if done:
                return result  # type: ignore[return-value]
            raise
        router._count("primary")
        return result

    async def _on_replicas(
        self, servers: dict[str, _Server], read: AsyncRead[T]
    ) -> tuple[bool, T | None]:
        for replica in self.router._candidates():
            try:
                result = await self._on(servers, replica.name, replica.engine, read)
            except UNREACHABLE_ASYNC as error:
                self._set_aside(replica, error)
                continue
            self.router._count(replica.name)
            return True, result
        return False, None

    def _set_aside(self, replica: Replica, error: Exception) -> None:
        self.router._set_aside(replica, error)
        for servers in self._loops.values():
            if replica.name in servers:
                servers[replica.name].discard()

    async def _on(
        self, servers: dict[str, _Server], name: str, engine: sa.Engine, read: AsyncRead[T]
    ) -> T:
        server = servers.get(name)
        if server is None:
            server = servers[name] = _Server(engine)
        connection, pooled = await server.take()
        try:
            result = await read(connection)
        except UNREACHABLE_ASYNC:
            server.drop(connection)
            server.discard()
            if not pooled:
                raise
            # A pooled connection the server closed (a restart, an idle timeout): one new
            # connection decides whether the server itself is gone.
            connection, _ = await server.take()
            try:
                result = await read(connection)
            except BaseException:
                server.drop(connection)
                raise
        except BaseException:
            # A failed or cancelled read may leave the connection mid-statement.
            if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                server.drop(connection)
            else:
                server.give_back(connection)
            raise
        server.give_back(connection)
        return result

    def _servers(self) -> dict[str, _Server]:
        loop = asyncio.get_running_loop()
        servers = self._loops.get(loop)
        if servers is None:
            for gone in [other for other in self._loops if other.is_closed()]:
                self.close_loop(gone)
            servers = self._loops[loop] = {}
        return servers

    def close_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        for server in self._loops.pop(loop, {}).values():
            server.discard()

    def close(self) -> None:
        for loop in list(self._loops):
            self.close_loop(loop)
