"""Worker processes of the claims ingest die with the process that started them.

A worker pool's processes outlive a parent killed with SIGKILL: each finishes the chunks
already queued to it, writing Parquet files nobody will commit, and the resource tracker waits
for them (issue 11: still writing 8 minutes after ``kill -9``). ``die_with_parent`` runs first
in every worker (the pool's initializer):

- on Linux it asks the kernel for SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``);
- everywhere, a daemon thread polls the parent's pid once a second and ends the process when
  the worker has been handed to another parent (the only portable sign of the parent's death);
- a parent that died before either was in place is caught by comparing the pids at once.

The resource tracker ends by itself once no process holds its pipe, that is once the parent and
the workers are gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import Final

#: <linux/prctl.h>
_PR_SET_PDEATHSIG: Final = 1
#: Seconds between two looks at the parent's pid.
POLL_SECONDS: Final = 1.0


def die_with_parent(parent: int) -> None:
    """Makes this process end when ``parent`` (the pid that started it) ends."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def _watch(parent: int) -> None:
    while True:
        time.sleep(POLL_SECONDS)
        if os.getppid() != parent:
            # os._exit, not sys.exit: no clean-up that could write more of an orphaned chunk.
            os._exit(1)
