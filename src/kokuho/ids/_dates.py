from __future__ import annotations

import datetime as dt
import re
from typing import Final

# Since Python 3.11 ``date.fromisoformat`` also reads ISO week dates ('2021-W01-1' is
# 2021-01-04) and the basic form; a field documented as YYYY-MM-DD takes that, or the basic
# form YYYYMMDD that systems export, and nothing else.
_ISO_DAY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{8}")


def iso_date(text: str) -> dt.date:
    """A calendar date written ``YYYY-MM-DD`` (or ``YYYYMMDD``); ValueError for anything else,
    a day the calendar lacks (2021-02-30) included."""
    if not _ISO_DAY.fullmatch(text):
        raise ValueError(f"{text[:40]!r} is not a date YYYY-MM-DD")
    return dt.date.fromisoformat(text)
