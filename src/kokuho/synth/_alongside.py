"""Work run in a forked process alongside the rest of a run (2 cores: the demo's start).

The claims (synth/_claims.py) read the simulated world and draw from their own random
stream, and nothing else reads what they write: a forked child inherits the world as it is
(copy-on-write, nothing pickled) and writes the same bytes it would have written in the
parent. Where fork is unavailable, or there is one CPU, or the caller runs other threads (a
fork copies only the calling thread, and a lock another one held would never be released in
the child), the work runs in the caller, later.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    """Whether ``Alongside`` runs its work in a forked child here and now."""
    return (
        (os.cpu_count() or 1) >= 2
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )


class Alongside(Generic[T]):
    """``work`` started now (in a forked child when it pays); ``result()`` waits for it and
    returns its value or raises its exception in the caller."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._work = work
        self._process: multiprocessing.process.BaseProcess | None = None
        if not can_fork():
            return
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)

        def run() -> None:
            try:
                outcome: tuple[bool, object] = (True, work())
            except BaseException as error:  # noqa: BLE001 - every failure goes back to the caller
                outcome = (False, error)
            try:
                send.send(outcome)
            except (pickle.PicklingError, TypeError, AttributeError):
                send.send((False, RuntimeError(f"{outcome[1]!r}")))
            send.close()

        # Not a daemon: the demo may itself run inside a worker process.
        self._process = context.Process(target=run, name="kokuho-synth-alongside")
        self._process.start()
        send.close()

    def result(self) -> T:
        if self._process is None:
            return self._work()
        try:
            ok, value = self._receive.recv()
        except EOFError:
            raise RuntimeError(
                f"the synth's second process ended without an answer "
                f"(exit code {self._process.exitcode})"
            ) from None
        finally:
            self._process.join()
            self._receive.close()
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        return value  # type: ignore[no-any-return]
