"""Where the fields of a batch of レセ電 files are, and their checks (for ``_rece_fast``).

``Scan`` joins the files of one kind into one NumPy array of bytes, finds the line ends and
the commas once, and locates any field by arithmetic on those positions. ``values`` checks
the fields of a record type that the layout checks, for all its records at once; ``days``
parses the 1日…31日 fields where they hold something. Anything wrong raises ``NotClean``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from kokuho.claims._rece_cells import (
    Cells,
    NotClean,
    check_cp932,
    month_length,
    require,
    year_month,
)
from kokuho.claims._rece_layout import DAY_FIELDS, HEADER, LAYOUTS, FieldSpec, RecordLayout
from kokuho.store import utf8_not_cp932

Values = dict[int, tuple[np.ndarray, np.ndarray]]


def _lookup(layouts: dict[str, RecordLayout]) -> tuple[np.ndarray, list[RecordLayout]]:
    table = np.zeros(1 << 16, dtype=np.int16)
    ordered = list(layouts.values())
    for index, layout in enumerate(ordered, start=1):
        table[(ord(layout.tag[0]) << 8) | ord(layout.tag[1])] = index
    return table, ordered


_LOOKUPS: Final = {kind: _lookup(layouts) for kind, layouts in LAYOUTS.items()}


def _normalised(data: bytes) -> bytes:
    """The file as the reader splits it: a DOS EOF mark after the last line dropped, and a
    final line feed, so files can be joined. Every CR is followed by LF: one alone (a record
    ended by CR alone, or a CR inside a field) is refused, as by the reader."""
    if data.endswith(b"\n\x1a") or data == b"\x1a":
        data = data[:-1]
    require(data)
    require(data.count(b"\r") == data.count(b"\r\n"))  # also a last line ending in CR
    return data if data.endswith(b"\n") else data + b"\n"


@dataclass(frozen=True, slots=True)
class Days:
    """The non-empty 1日…31日 cells of one record type, in file order."""

    line: np.ndarray
    day: np.ndarray  # 0 = 1日
    value: np.ndarray


class Scan:
    """Lines, files, record types and field positions of a batch; the checks of each type."""

    def __init__(self, datas: list[bytes]) -> None:
        parts = [_normalised(data) for data in datas]
        kinds = {HEADER.get(part[:2].decode("ascii", "replace")) for part in parts}
        require(len(kinds) == 1)
        kind = kinds.pop()
        if kind is None:
            raise NotClean
        blob = b"".join(parts)
        require(b"\x00" not in blob)  # a NUL byte: the reader names its line and field
        buf = np.frombuffer(blob, dtype=np.uint8)
        if not blob.isascii():
            check_cp932(buf)
            # UTF-8 whose bytes are cp932 too: the reader names it (it fails fast on cp932)
            require(not any(utf8_not_cp932(part) for part in parts))
        ends = np.flatnonzero(buf == 10)
        starts = np.concatenate(([0], ends[:-1] + 1))
        bounds = np.cumsum([0] + [len(part) for part in parts])
        per_file = np.diff(np.searchsorted(ends, bounds))
        self.first_line = np.cumsum(per_file) - per_file
        self.per_file = per_file
        self.line_file = np.repeat(np.arange(len(parts)), per_file)
        ends = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13))
        length = ends - starts
        require((length >= 2).all())  # no empty line, and room for a record type
        third = buf[np.minimum(starts + 2, buf.size - 1)]
        require(((length == 2) | (third == 44)).all())  # a record type has two letters
        lookup, layouts = _LOOKUPS[kind]
        rid = lookup[(buf[starts].astype(np.int32) << 8) | buf[starts + 1]]
        require((rid > 0).all())
        commas = np.flatnonzero(buf == 44)
        comma_start = np.searchsorted(commas, starts)
        count = np.diff(np.append(comma_start, commas.size)) + 1
        low = np.array([0] + [r.min_fields for r in layouts])[rid]
        high = np.array([0] + [r.max_fields for r in layouts])[rid]
        require(((count >= low) & (count <= high)).all())
        self.kind, self.cells = kind, Cells(buf)
        self.ends, self.rid = ends, rid
        self.commas, self.comma_start, self.count = commas, comma_start, count
        self.ids = {layout.tag: index for index, layout in enumerate(layouts, start=1)}
        self.layouts = {layout.tag: layout for layout in layouts}
        self.line_month = np.zeros(rid.size, dtype=np.int64)  # set once RE is read
        self._values: dict[str, tuple[np.ndarray, Values]] = {}
        self._days: dict[str, Days] = {}
        self._gap: np.ndarray | None = None

    def rows(self, tag: str) -> np.ndarray:
        return np.flatnonzero(self.rid == self.ids[tag])

    def span(self, rows: np.ndarray, number: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and length of field ``number`` (≥ 2, present in every row) of ``rows``."""
        index = self.comma_start[rows] + (number - 2)
        start = self.commas[index] + 1
        following = self.commas[np.minimum(index + 1, self.commas.size - 1)]
        end = np.where(number < self.count[rows], following, self.ends[rows])
        return start, end - start

    def strings(self, rows: np.ndarray, number: int) -> pa.Array:
        return self.cells.strings(*self.span(rows, number))

    def _block(self, rows: np.ndarray, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
        """Starts and lengths (rows × fields) of fields ``low`` … ``high`` of ``rows``; every
        row has at least ``high`` fields."""
        index = self.comma_start[rows][:, None] + np.arange(low - 2, high)
        commas = self.commas[np.minimum(index, self.commas.size - 1)]
        commas[:, -1] = np.where(high < self.count[rows], commas[:, -1], self.ends[rows])
        start = commas[:, :-1] + 1
        return start, commas[:, 1:] - start

    def values(self, tag: str) -> tuple[np.ndarray, Values]:
        """The rows of ``tag`` and their checked fields but the day fields, checked once;
        neighbouring fields with the same ``FieldSpec`` are checked as one block."""
        if tag in self._values:
            return self._values[tag]
        rows = self.rows(tag)
        checked = self.layouts[tag].checked
        first_day, last_day = DAY_FIELDS[self.kind].get(tag, (0, -1))
        numbers = [n for n in sorted(checked) if not first_day <= n <= last_day]
        values: Values = {}
        if numbers and rows.size:
            low = numbers[0]
            start, length = self._block(rows, low, numbers[-1])
            month = self.line_month[rows]
            for spec, first, last in _runs(checked, numbers):
                block = slice(first - low, last - low + 1)
                value, present = self.cells.check_block(
                    spec, start[:, block], length[:, block], month
                )
                for number in range(first, last + 1):
                    values[number] = (value[:, number - first], present[:, number - first])
        else:
            empty = np.zeros(0, dtype=np.int64)
            values = {number: (empty, empty.astype(bool)) for number in numbers}
        self._values[tag] = (rows, values)
        return self._values[tag]

    def days(self, tag: str) -> Days:
        """The non-empty day cells of ``tag``: digits (as their spec says), and no count on a
        day the service month does not have."""
        if tag not in self._days:
            rows = self.rows(tag)
            if not rows.size:
                empty = np.zeros(0, dtype=np.int64)
                self._days[tag] = Days(empty, empty, empty)
                return self._days[tag]
            first, last = DAY_FIELDS[self.kind][tag]
            spec = self.layouts[tag].checked[first]
            limit = spec.lengths[0] if spec.form == "int" else max(spec.lengths)
            index = self.comma_start[rows][:, None] + np.arange(first - 2, last - 1)
            row, day = np.nonzero(self.gap[index] > 0)
            comma = index[row, day]
            length = self.gap[comma]
            require((length <= limit).all())
            value = self.cells.digits(self.commas[comma] + 1, length, limit)
            line = rows[row]
            year, month = year_month(self.line_month[line])
            require(((value == 0) | (day < month_length(year, month))).all())
            self._days[tag] = Days(line, day, value)
        return self._days[tag]

    @property
    def gap(self) -> np.ndarray:
        """The length of the field after each comma."""
        if self._gap is None:
            gap = np.empty_like(self.commas)
            gap[:-1] = self.commas[1:]
            gap[self.comma_start + self.count - 2] = self.ends  # a line's last field
            self._gap = gap - self.commas - 1
        return self._gap


def _runs(checked: dict[int, FieldSpec], numbers: list[int]) -> list[tuple[FieldSpec, int, int]]:
    """Runs of consecutive field numbers with the same spec: (spec, first, last)."""
    runs: list[tuple[FieldSpec, int, int]] = []
    for number in numbers:
        spec = checked[number]
        if runs and runs[-1][0] == spec and runs[-1][2] == number - 1:
            runs[-1] = (spec, runs[-1][1], number)
        else:
            runs.append((spec, number, number))
    return runs
