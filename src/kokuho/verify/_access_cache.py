"""Look-ups by key remembered for a freshness bound, found or not, with concurrent look-ups of
one key coalesced (the credential rows of :class:`~kokuho.verify._access.Authenticator`).

**The bound.** Every answer :meth:`RecentReads.get` gives comes from a read that started at
most ``seconds`` before the call: a remembered one younger than that, or one in flight that
started less than that ago. So a change committed at ``t`` (a credential revoked, or issued) is
seen by every call from ``t + seconds`` on (plus the replica lag bound when the read went to a
replica). Hits never renew an entry: its age counts from its read.

**Memory.** Keys that were found are kept in a dict: they are rows of a table, so no caller can
add keys that do not exist; past :data:`KNOWN_LIMIT` the stale ones are dropped (all of them if
none is stale). Keys not found are kept in a separate insertion-ordered dict of at most
:data:`UNKNOWN_LIMIT` entries, the oldest dropped first (also the first to go stale): a caller
sending millions of distinct keys costs :data:`UNKNOWN_LIMIT` small entries, and it cannot push
found keys out. Reads in flight are one entry each, bounded by the calls running at once.

**Single flight.** A call that finds a read of its key in flight (started less than ``seconds``
ago) waits for it instead of reading too, at most until that read is ``seconds`` old, and then
reads itself; so does a call whose leader's read failed (nothing is remembered of a failure).
Waiting is ``threading.Event.wait``: callers on an event loop block it for the leader's read,
which is what their own read would have cost, and never past the bound. The state is per
process and guarded by one lock, held only for dict operations, never during a read.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

R = TypeVar("R")

#: Keys not found remembered at once (per process).
UNKNOWN_LIMIT: Final = 4096
#: Keys found remembered at once (per process) before the stale ones are dropped.
KNOWN_LIMIT: Final = 200_000


@dataclass(slots=True)
class _Flight:
    started: float
    done: threading.Event = field(default_factory=threading.Event)


class RecentReads(Generic[R]):
    """``read(key)`` (None: not found) remembered for ``seconds``; see the module's docstring."""

    def __init__(
        self, read: Callable[[str], R | None], *, seconds: float,
        clock: Callable[[], float] = time.monotonic, unknown_limit: int = UNKNOWN_LIMIT,
        known_limit: int = KNOWN_LIMIT,
    ) -> None:  # fmt: skip
        self._read = read
        self._seconds = seconds
        self._clock = clock
        self._unknown_limit = unknown_limit
        self._known_limit = known_limit
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, R]] = {}
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._flights: dict[str, _Flight] = {}

    def get(self, key: str) -> R | None:
        waited = False
        while True:
            now = self._clock()
            with self._lock:
                known = self._known.get(key)
                if known is not None and now - known[0] <= self._seconds:
                    return known[1]
                unknown = self._unknown.get(key)
                if unknown is not None and now - unknown <= self._seconds:
                    return None
                flight = self._flights.get(key)
                if flight is None or waited or now - flight.started > self._seconds:
                    flight = self._flights[key] = _Flight(now)
                    break
            flight.done.wait(max(0.0, flight.started + self._seconds - now))
            waited = True  # found nothing after: read, do not wait again
        try:
            value = self._read(key)
        except BaseException:
            self._land(key, flight)
            raise
        self._land(key, flight, value, found=True)
        return value

    def sizes(self) -> tuple[int, int]:
        """How many keys are remembered now: (found, not found)."""
        with self._lock:
            return len(self._known), len(self._unknown)

    def _land(
        self, key: str, flight: _Flight, value: R | None = None, *, found: bool = False
    ) -> None:
        """Remembers what ``flight`` read (``found``: it finished), unless a younger read of
        ``key`` is remembered already, and wakes the calls waiting for it."""
        at = flight.started
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
            known, unknown = self._known.get(key), self._unknown.get(key)
            younger = (known is not None and known[0] > at) or (
                unknown is not None and unknown > at
            )
            if found and not younger:
                if value is None:
                    self._known.pop(key, None)
                    self._unknown[key] = at
                    self._unknown.move_to_end(key)
                    while len(self._unknown) > self._unknown_limit:
                        self._unknown.popitem(last=False)
                else:
                    self._unknown.pop(key, None)
                    self._known[key] = (at, value)
                    if len(self._known) > self._known_limit:
                        self._drop_stale(self._clock())
        flight.done.set()

    def _drop_stale(self, now: float) -> None:
        """Under the lock: the found keys past the bound go; all of them if none is."""
        for key in [k for k, (at, _) in self._known.items() if now - at > self._seconds]:
            del self._known[key]
        if len(self._known) > self._known_limit:
            self._known.clear()
