"""What every benchmark's JSON says about the machine and the run that produced it."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from typing import Any


def machine() -> dict[str, Any]:
    """Python, platform, CPUs, the load average at the start (these machines are shared), date."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
