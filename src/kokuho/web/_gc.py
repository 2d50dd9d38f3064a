"""The garbage collector of a server process once it has started (``KOKUHO_GC_THRESHOLDS``,
``KOKUHO_GC_FREEZE``; docs/operations.md, "Serving").

A started worker holds hundreds of thousands of long-lived objects (modules, SQLAlchemy
metadata and compiled statements, FastAPI's routes and models, the card caches' first
entries) that every full collection would walk again, a pause of tens of milliseconds that
lands on whichever check is running. After one full collection at start-up (the start's own
garbage), ``gc.freeze`` moves the survivors to the permanent generation, which no collection
visits; a higher young-generation threshold makes the young collections rarer, and the
objects a check allocates are mostly freed by reference counting before one runs.
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
    keeps collecting them (a frozen object is never freed)."""
    global _depth, _saved
    with _lock:
        _depth += 1
        if _depth == 1:
            _saved = gc.get_threshold()
            if thresholds is not None:
                gc.set_threshold(*thresholds)
            if freeze:
                gc.collect()
                gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.unfreeze()
                gc.set_threshold(*_saved)
