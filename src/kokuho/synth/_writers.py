"""Writers of the formats in docs/formats.md: insurers, change feed, residents, submissions.

Rows are joined without the csv module: every value is built here from tables that are
checked to hold no comma, quote or newline, so no field ever needs quoting (RFC 4180).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from kokuho.synth._data import Insurer

NEWLINE = "\r\n"  # RFC 4180
FEED_COLUMNS = (
    "event_id", "event", "effective_date", "insurer_number", "symbol", "number", "branch",
    "name_kanji", "name_kana", "birth_date", "sex", "address", "relationship",
    "copay_percent", "elderly_copay_percent", "limit_category", "specific_disease",
    "card_class", "loss_reason",
)  # fmt: skip
INSURER_COLUMNS = ("insurer_number", "name", "kind", "municipality_code")
RESIDENT_COLUMNS = (
    "resident_id", "mynumber", "name_kanji", "name_kana", "birth_date", "sex", "address",
    "municipality_code", "household_id", "relationship", "household_since",
)  # fmt: skip
SUBMISSION_COLUMNS = ("insurer_number", "symbol", "number", "branch", "mynumber")


@lru_cache(maxsize=1 << 16)
def iso(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


@lru_cache(maxsize=1 << 16)
def month_key(ordinal: int) -> int:
    day = dt.date.fromordinal(ordinal)
    return day.year * 12 + day.month - 1


def month_label(key: int) -> str:
    return f"{key // 12:04d}-{key % 12 + 1:02d}"


def write_table(path: Path, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(columns) + NEWLINE)
        lines: list[str] = []
        for row in rows:
            lines.append(",".join(row))
            count += 1
            if len(lines) >= 8192:
                handle.write(NEWLINE.join(lines) + NEWLINE)
                lines.clear()
        if lines:
            handle.write(NEWLINE.join(lines) + NEWLINE)
    return count


def write_insurers(path: Path, insurers: Sequence[Insurer]) -> int:
    return write_table(
        path,
        INSURER_COLUMNS,
        ((i.number, i.name, i.kind, i.municipality_code) for i in insurers),
    )


class Feed:
    """The change feed, buffered by insurer and filing month (the month the insurer sent it).

    Each row waits with its filing day until every row of its month is known, then the month
    is written in filing order and the event ids are numbered per insurer in that order.
    """

    def __init__(self, directory: Path, insurers: Sequence[Insurer], first_month: int) -> None:
        self.directory = directory
        self.insurers = insurers
        self.first_month = first_month
        self._buffers: dict[tuple[int, int], list[tuple[int, int, str]]] = {}
        self._serial = [0] * len(insurers)
        self._seq = 0
        self.files: list[str] = []
        self.rows = 0

    def add(self, insurer: int, filed: int, body: str) -> None:
        """``body`` is the row without its event id; ``filed`` the day the insurer sent it."""
        self._seq += 1
        month = max(month_key(filed), self.first_month)
        key = (insurer, month)
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = []
        buffer.append((filed, self._seq, body))

    def flush_before(self, month: int) -> None:
        """Writes every month earlier than ``month``: no later event can be filed in them."""
        ready = sorted(key for key in self._buffers if key[1] < month)
        for insurer, key_month in sorted(ready, key=lambda k: (k[1], k[0])):
            self._write(insurer, key_month, self._buffers.pop((insurer, key_month)))

    def close(self) -> None:
        self.flush_before(1 << 40)

    def _write(self, insurer: int, month: int, rows: list[tuple[int, int, str]]) -> None:
        rows.sort()
        number = self.insurers[insurer].number
        name = f"changes/{number}_{month_label(month)}.csv"
        serial = self._serial[insurer]
        with (self.directory / name).open("w", encoding="utf-8", newline="") as handle:
            handle.write(",".join(FEED_COLUMNS) + NEWLINE)
            lines = []
            for _, _, body in rows:
                serial += 1
                lines.append(f"E{serial:08d},{body}")
            handle.write(NEWLINE.join(lines) + NEWLINE)
        self._serial[insurer] = serial
        self.rows += len(rows)
        self.files.append(name)
