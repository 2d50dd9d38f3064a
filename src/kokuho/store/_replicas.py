"""Read routing over PostgreSQL streaming replicas (読み取りレプリカ).

A :class:`ReadRouter` runs a read on a replica that is fresh enough, else on the primary. A
replica's freshness is measured, never guessed: a background probe samples the primary's WAL
position (``pg_current_wal_insert_lsn()``) at a known moment ``T0``; once a replica's
``pg_last_wal_replay_lsn()`` has passed that position, everything committed on the primary
before ``T0`` is visible on the replica, so the replica is *fresh as of* ``T0``. A read may use
it only while ``now - fresh_as_of <= max_lag``: an import visible on the primary at ``t``
therefore reaches every answer by ``t + max_lag`` at the latest, whatever the probe's cadence.

When the primary does not answer the probe, nothing newer than its last sighting can exist
(through this node), so replicas are judged against that moment instead of ``now``: checks
continue read-only on a replica that was fresh when the primary was last seen.

A replica that fails a read is set aside for ``retry_after`` seconds and the read is run again
on the next candidate (another replica, then the primary), so the caller sees no error.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa

from kokuho.store._engine import connect

T = TypeVar("T")
log = logging.getLogger(__name__)

#: The failures that mean "this server did not answer" (not "the query was wrong").
UNREACHABLE = (sa.exc.OperationalError, sa.exc.InterfaceError)
_PRIMARY_LSN = sa.text("select (pg_current_wal_insert_lsn() - '0/0')::bigint")
_REPLICA_LSN = sa.text(
    "select pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0')::bigint, "
    "extract(epoch from now() - pg_last_xact_replay_timestamp())"
)


@dataclass
class Replica:
    name: str
    engine: sa.Engine
    fresh_as_of: float = float("-inf")  # monotonic seconds
    down_until: float = 0.0
    replay_age: float | None = None  # now() - pg_last_xact_replay_timestamp(), for operators


@dataclass(frozen=True)
class ReplicaStatus:
    name: str
    usable: bool
    staleness: float | None  # seconds behind the primary (at its last sighting); None: unknown
    replay_age: float | None  # seconds since the last replayed commit (idle primaries age it)


class ReadRouter:
    """Chooses the engine of each read: a fresh replica, else the primary (one routing point)."""

    def __init__(
        self,
        primary: sa.Engine,
        replicas: Sequence[sa.Engine] = (),
        *,
        max_lag: float = 5.0,
        probe_interval: float | None = None,
        retry_after: float = 2.0,
    ) -> None:
        if max_lag <= 0:
            raise ValueError(f"the replica lag bound must be positive, not {max_lag}")
        self.primary = primary
        self.max_lag = max_lag
        self.retry_after = retry_after
        self._replicas = [Replica(f"replica:{i}", e) for i, e in enumerate(replicas, 1)]
        self._samples: deque[tuple[float, int]] = deque(maxlen=64)
        self._primary_seen = time.monotonic()
        self._primary_up = True
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self.served: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self._replicas:
            # Frequent enough that a fresh replica is admitted well inside the bound.
            self.probe_interval = probe_interval or min(1.0, max_lag / 4)
            self.probe()
            self._thread = threading.Thread(target=self._probe_loop, name="replica-probe",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    @classmethod
    def from_urls(
        cls, primary: sa.Engine, urls: Sequence[str], *, max_lag: float = 5.0,
        connect_timeout: int = 2, **options: float,
    ) -> ReadRouter:  # fmt: skip
        """Opens the replicas at ``urls`` (PostgreSQL only; never migrated: they are read-only)."""
        engines = []
        for url in urls:
            if not url.startswith("postgresql"):
                raise ValueError(f"a read replica must be a PostgreSQL URL, not {url!r}")
            engines.append(
                connect(url, migrate=False, pool_size=8, max_overflow=8,
                        connect_args={"connect_timeout": connect_timeout})
            )  # fmt: skip
        if engines and primary.dialect.name != "postgresql":
            raise ValueError("read replicas need a PostgreSQL primary (KOKUHO_DATABASE_URL)")
        return cls(primary, engines, max_lag=max_lag, **options)

    # -- reads -----------------------------------------------------------------------------
    def run(self, read: Callable[[sa.Connection], T]) -> T:
        """Runs ``read`` (a read-only function of a connection) on a fresh replica, else on the
        primary; a replica that fails is set aside and the read moves on without an error."""
        if not self._replicas:
            with self.primary.connect() as connection:
                return read(connection)
        done, result = self._on_replicas(read)
        if done:
            return result  # type: ignore[return-value]
        try:
            with self.primary.connect() as connection:
                result = read(connection)
        except UNREACHABLE:
            # The primary went away between probes: judge the replicas against its last
            # sighting now rather than fail this read.
            with self._lock:
                self._primary_up = False
            done, result = self._on_replicas(read)
            if done:
                return result  # type: ignore[return-value]
            raise
        self._count("primary")
        return result

    def _on_replicas(self, read: Callable[[sa.Connection], T]) -> tuple[bool, T | None]:
        for replica in self._candidates():
            try:
                with replica.engine.connect() as connection:
                    result = read(connection)
            except UNREACHABLE as error:
                self._set_aside(replica, error)
                continue
            self._count(replica.name)
            return True, result
        return False, None

    def _candidates(self) -> list[Replica]:
        now = time.monotonic()
        with self._lock:
            reference = now if self._primary_up else self._primary_seen
            usable = [
                r for r in self._replicas
                if r.down_until <= now and reference - r.fresh_as_of <= self.max_lag
            ]  # fmt: skip
        if len(usable) > 1:  # spread the reads
            start = next(self._turn) % len(usable)
            usable = usable[start:] + usable[:start]
        return usable

    def _set_aside(self, replica: Replica, error: Exception) -> None:
        log.warning("%s did not answer (%s); reading elsewhere", replica.name,
                    str(error).splitlines()[0] if str(error) else type(error).__name__)  # fmt: skip
        with self._lock:
            replica.down_until = time.monotonic() + self.retry_after
            replica.fresh_as_of = float("-inf")  # re-admitted only by a probe
        replica.engine.dispose()

    def _count(self, name: str) -> None:
        with self._lock:
            self.served[name] += 1

    # -- freshness -------------------------------------------------------------------------
    def probe(self) -> None:
        """Samples the primary's WAL position and every replica's replay position."""
        t0 = time.monotonic()
        try:
            with self.primary.connect() as connection:
                lsn = int(connection.execute(_PRIMARY_LSN).scalar_one())
        except UNREACHABLE:
            with self._lock:
                self._primary_up = False
            self.primary.dispose()
        else:
            with self._lock:
                self._samples.append((t0, lsn))
                self._primary_up = True
                self._primary_seen = t0
        for replica in self._replicas:
            self._probe_replica(replica)

    def _probe_replica(self, replica: Replica) -> None:
        try:
            with replica.engine.connect() as connection:
                row = connection.execute(_REPLICA_LSN).one()
        except UNREACHABLE:
            with self._lock:
                replica.down_until = time.monotonic() + self.retry_after
                replica.fresh_as_of = float("-inf")
            replica.engine.dispose()
            return
        in_recovery, replayed, age = row
        with self._lock:
            replica.replay_age = None if age is None else float(age)
            if not in_recovery or replayed is None:
                # A promoted server has its own history from then on: never read it as a replica.
                replica.fresh_as_of = float("-inf")
                return
            replica.down_until = 0.0
            for t0, lsn in reversed(self._samples):
                if lsn <= replayed:
                    replica.fresh_as_of = max(replica.fresh_as_of, t0)
                    break

    def _probe_loop(self) -> None:
        while not self._stop.wait(self.probe_interval):
            try:
                self.probe()
            except Exception:  # a probe must never end the loop
                log.exception("replica probe failed")

    def status(self) -> list[ReplicaStatus]:
        """Each replica's staleness as the router sees it (for operators and tests)."""
        now = time.monotonic()
        with self._lock:
            reference = now if self._primary_up else self._primary_seen
            return [
                ReplicaStatus(
                    r.name,
                    r.down_until <= now and reference - r.fresh_as_of <= self.max_lag,
                    None if r.fresh_as_of == float("-inf") else reference - r.fresh_as_of,
                    r.replay_age,
                )
                for r in self._replicas
            ]

    @property
    def primary_up(self) -> bool:
        return self._primary_up

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for replica in self._replicas:
            replica.engine.dispose()
