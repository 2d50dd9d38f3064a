"""Whether a second reading process would pay: the one rule the importers' forked readers
share (the V08 archive's second half, the change feed's read-ahead)."""

from __future__ import annotations

import os
import sys
import threading


def spare_core(*, require_idle: bool = True) -> bool:
    """True when a child made by ``os.fork`` can run on a core of its own: Linux (fork, and
    the parent-death signal the children use), at least two CPUs for this process, no other
    Python thread (a fork copies a lock another thread holds, held forever), and, when
    ``require_idle``, a CPU nobody else wants by the 1-minute load average, in which the
    caller itself counts for about one: on a busy machine a child adds its transfer's CPU and
    gains no time."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if threading.active_count() != 1:
        return False
    cpus = len(os.sched_getaffinity(0))
    return cpus >= 2 and (not require_idle or os.getloadavg()[0] < cpus - 0.5)
