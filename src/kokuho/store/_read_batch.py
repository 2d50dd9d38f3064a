"""Reads of one event loop sent together: while a read is in flight, the next ones wait and
then go as one statement (読み取りの一括送信, like the audit's group commit, for reads).

Under load a PostgreSQL backend spends more CPU on each small statement's protocol, wake-up
and context switch than on the look-up itself. :class:`ReadBatcher` keeps at most
``in_flight`` reads of one loop at the database; the keys that arrive meanwhile are queued and
sent as one statement by ``many`` (e.g. the look-up joined laterally to the keys'
``unnest … WITH ORDINALITY``), each caller's future settled with its own result. A read that
finds nothing in flight is sent at once, by ``one``, as before.

Every flight runs through :meth:`AsyncReads.run`, so the router's choices hold for it as for
any read (a replica within the lag bound, else the primary; a primary that fails sends the
read to the replicas). The callers stay apart: a caller cancelled while it waits only leaves
the batch, and a batch that fails for any reason is retried one key per read, so one caller's
bad key can only fail that caller's read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import psycopg

from kokuho.store._replicas_async import AsyncReads

K = TypeVar("K")
R = TypeVar("R")
One = Callable[[psycopg.AsyncConnection[Any], K], Awaitable[R]]
Many = Callable[[psycopg.AsyncConnection[Any], Sequence[K]], Awaitable[list[R]]]


class _Loop(Generic[K, R]):
    """One loop's queue and flights."""

    __slots__ = ("flights", "queue", "tasks")

    def __init__(self) -> None:
        self.queue: list[tuple[K, asyncio.Future[R]]] = []
        self.flights = 0
        self.tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak ones


class ReadBatcher(Generic[K, R]):
    """Reads by key, the keys of one loop that wait together sent as one statement."""

    def __init__(
        self, reads: AsyncReads, one: One[K, R], many: Many[K, R], *, in_flight: int = 1,
        limit: int = 64,
    ) -> None:  # fmt: skip
        self.reads = reads
        self._one = one
        self._many = many
        self._in_flight = in_flight
        self._limit = limit  # keys per statement at most (a bounded statement and result)
        self._loops: dict[asyncio.AbstractEventLoop, _Loop[K, R]] = {}

    async def read(self, key: K) -> R:
        """``one(connection, key)``'s result, read alone or in a batch with other keys."""
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            for gone in [other for other in self._loops if other.is_closed()]:
                del self._loops[gone]
            state = self._loops[loop] = _Loop()
        future: asyncio.Future[R] = loop.create_future()
        state.queue.append((key, future))
        if state.flights < self._in_flight:
            self._launch(loop, state)
        # Cancelling this caller cancels its future only: the flight carries on for the others.
        return await future

    def _launch(self, loop: asyncio.AbstractEventLoop, state: _Loop[K, R]) -> None:
        batch = state.queue[: self._limit]
        del state.queue[: self._limit]
        state.flights += 1
        task = loop.create_task(self._fly(loop, state, batch))
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)

    async def _fly(
        self, loop: asyncio.AbstractEventLoop, state: _Loop[K, R],
        batch: list[tuple[K, asyncio.Future[R]]],
    ) -> None:  # fmt: skip
        try:
            live = [(key, future) for key, future in batch if not future.done()]
            if len(live) == 1:
                await self._alone(*live[0])
            elif live:
                await self._together(live)
        except BaseException as error:
            # A cancelled flight (the loop shutting down) or a fault here, not in a read: no
            # caller may wait for ever.
            for _, future in batch:
                if future.done():
                    continue
                if isinstance(error, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
        finally:
            state.flights -= 1
            if state.queue and not loop.is_closed():
                self._launch(loop, state)

    async def _together(self, live: list[tuple[K, asyncio.Future[R]]]) -> None:
        keys = [key for key, _ in live]
        many = self._many
        try:
            results = await self.reads.run(lambda connection: many(connection, keys))
        except Exception:  # noqa: BLE001  (whose key it was is not known: each alone)
            await asyncio.gather(*(self._alone(key, future) for key, future in live))
            return
        if len(results) != len(live):
            raise RuntimeError(f"{len(results)} results for {len(live)} keys")
        for (_, future), result in zip(live, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _alone(self, key: K, future: asyncio.Future[R]) -> None:
        one = self._one
        try:
            result = await self.reads.run(lambda connection: one(connection, key))
        except Exception as error:  # noqa: BLE001  (the caller's to see)
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(result)
