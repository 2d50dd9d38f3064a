"""The garbage collector of a server process once it has started (``KOKUHO_GC_THRESHOLDS``,
``KOKUHO_GC_FREEZE``; docs/operations.md, "Serving").

A started worker holds a few hundred thousand long-lived objects (modules, SQLAlchemy
metadata and compiled statements, FastAPI's routes and models, caches) that every full
collection walks again: 0.2 to 0.3 s measured under load, while every check in flight waits.
``gc.freeze`` moves them to the permanent generation, which no collection visits; a higher
young-generation threshold makes collections rare (the objects of the requests in flight set
them off, and reference counting, not the collector, frees them). No full collection before
the freeze: at start-up it found about ten objects to free and took 0.15 s.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # apps started and not yet stopped in this process (tests start several)
_saved: tuple[int, int, int] = (700, 10, 10)


@contextmanager
def tuned_gc(thresholds: tuple[int, int, int] | None, *, freeze: bool) -> Iterator[None]:
    """Applies the settings for the life of a started app, and puts the interpreter's back
    when the last app of the process stops: a test process that starts apps one after another
    gets their reference cycles collected (reference counting still frees a frozen object,
    but a frozen cycle is never collected)."""
    global _depth, _saved
    with _lock:
        _depth += 1
        if _depth == 1:
            _saved = gc.get_threshold()
            if thresholds is not None:
                gc.set_threshold(*thresholds)
            if freeze:
                gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.unfreeze()
                gc.set_threshold(*_saved)
