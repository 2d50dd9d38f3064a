"""Whole-column field checks for the fast path: the forms of ``FieldSpec`` on NumPy arrays.

A "cell" is a field of many records at once, given as ``start`` and ``length`` arrays into the
file's bytes. ``Cells.check`` applies the same rules as ``_rece_check.check_field`` (the tests
hold them together) and returns ``(values, present)``: integers, floats for quantities, and
days since 1970 for dates.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from kokuho.claims._rece_check import check_field
from kokuho.claims._rece_layout import ENCODING, FieldSpec
from kokuho.ids import ERAS, SCORE_TABLES


class NotClean(Exception):
    """The fast path found the file wrong somewhere; the precise reader says where."""


def require(condition: object) -> None:
    if not bool(condition):
        raise NotClean


def _epoch_days(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


# Indexed by 年号区分 (0 and 6–9 undefined).
_ERA_BASE: Final = np.array([0] + [e.base_year for e in ERAS] + [0] * 4, dtype=np.int64)
_ERA_FIRST: Final = np.array(
    [0] + [_epoch_days(e.first_day) for e in ERAS] + [0] * 4, dtype=np.int64
)
_ERA_LAST: Final = np.array([0] + [_epoch_days(e.last_day) for e in ERAS] + [0] * 4, dtype=np.int64)


def _cp932_tables() -> tuple[np.ndarray, np.ndarray]:
    """Which single high bytes and which (lead, trail) pairs Python's cp932 decoder accepts."""
    singles = np.zeros(256, dtype=bool)
    pairs = np.zeros(1 << 16, dtype=bool)
    for byte in range(0x80, 0x100):
        try:
            bytes([byte]).decode(ENCODING)
            singles[byte] = True
        except UnicodeDecodeError:
            for trail in range(0x100):
                try:
                    bytes([byte, trail]).decode(ENCODING)
                    pairs[(byte << 8) | trail] = True
                except UnicodeDecodeError:
                    pass
    return singles, pairs


_CP932: list[tuple[np.ndarray, np.ndarray]] = []


def check_cp932(buf: np.ndarray) -> None:
    """``NotClean`` unless ``buf`` decodes as cp932 (exactly as ``bytes.decode`` would).

    A lead byte (0x81–0x9F, 0xE0–0xFC) always takes the next byte; in a run of lead bytes the
    1st, 3rd, … are leads and the others their trails, and a run of odd length takes the byte
    after it. Every pair and every other high byte is then looked up in tables built from the
    decoder itself."""
    if not _CP932:
        _CP932.append(_cp932_tables())
    singles, pairs = _CP932[0]
    high = np.flatnonzero(buf >= 0x80)
    values = buf[high]
    is_lead = ((values >= 0x81) & (values <= 0x9F)) | ((values >= 0xE0) & (values <= 0xFC))
    leads = high[is_lead]
    others = high[~is_lead]
    if leads.size:
        run_start = np.concatenate(([True], leads[1:] != leads[:-1] + 1))
        first = leads[run_start][np.cumsum(run_start) - 1]
        leads = leads[(leads - first) % 2 == 0]
        trails = leads + 1
        require(trails[-1] < buf.size)
        require(pairs[(buf[leads].astype(np.int64) << 8) | buf[trails]].all())
        # the high bytes that are not trails of a lead stand alone
        at = np.minimum(np.searchsorted(trails, others), trails.size - 1)
        others = others[trails[at] != others]
    require(singles[buf[others]].all())


_TABLES: Final = np.array(sorted(int(table) for table in SCORE_TABLES), dtype=np.int64)


def institution_codes_valid(
    prefecture: np.ndarray, table: np.ndarray, code: np.ndarray
) -> np.ndarray:
    """Whether 都道府県 (2 digits) + 点数表 (1) + コード (7), as integers, are valid 10-digit
    医療機関コード: ``kokuho.ids.InstitutionCode.from_claim`` on whole columns (the tests hold
    the two together): 都道府県 01–47, a known 点数表, and the 2-1 digit-sum 検証番号 over the
    first nine digits."""
    body = prefecture * 10**7 + table * 10**6 + code // 10
    total = np.zeros(body.shape, dtype=np.int64)
    for position in range(9):  # from the last digit: × 2, × 1, × 2, …
        product = body // 10**position % 10 * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    valid: np.ndarray = (
        (prefecture >= 1)
        & (prefecture <= 47)
        & np.isin(table, _TABLES)
        & ((10 - total % 10) % 10 == code % 10)
    )
    return valid


def civil_days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970 of valid (year, month 1–12, day ≥ 1) triples."""
    months = (year - 1970) * 12 + (month - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    days: np.ndarray = first + (day - 1)
    return days


def month_length(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    months = (year - 1970) * 12 + (month - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]")
    following = (months + 1).astype("datetime64[M]").astype("datetime64[D]")
    lengths: np.ndarray = (following - first).astype(np.int64)
    return lengths


def year_month(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months // 12 + 1970, months % 12 + 1


def date_array(days: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    values = days.astype(np.int64).astype("datetime64[D]")
    mask = None if present is None else ~present
    return pa.array(values, type=pa.date32(), mask=mask)


class Cells:
    def __init__(self, buf: np.ndarray) -> None:
        self.buf = buf

    def _matrix(
        self, start: np.ndarray, length: np.ndarray, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The bytes of each cell, left-aligned in ``width`` columns, and which are real."""
        columns = np.arange(width)
        mask = columns[None, :] < length[:, None]
        position = np.minimum(start[:, None] + columns[None, :], self.buf.size - 1)
        return self.buf[position], mask

    def digits(self, start: np.ndarray, length: np.ndarray, limit: int) -> np.ndarray:
        """Cells of at most ``limit`` ASCII digits as integers (empty cells read 0)."""
        if length.size == 0:
            return np.zeros(0, dtype=np.int64)
        width = int(length.max())
        require(width <= min(limit, 18))
        # Right-aligned: column j holds the digit of weight 10**(width - 1 - j).
        columns = np.arange(width)
        position = (start + length - width)[:, None] + columns[None, :]
        raw = self.buf[position]  # a negative position reads padding that the mask hides
        mask = columns[None, :] >= (width - length)[:, None]
        require(not (((raw < 48) | (raw > 57)) & mask).any())
        digits = np.where(mask, raw, 48).astype(np.int64) - 48
        return digits @ np.power(10, np.arange(width - 1, -1, -1), dtype=np.int64)

    def check_block(
        self, spec: FieldSpec, start: np.ndarray, length: np.ndarray, month: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``check`` of a block of cells (records × fields with the same spec); ``month`` is
        the service month of each record (days since 1970)."""
        present = length > 0
        if spec.required or spec.form == "text":
            if spec.required:
                require(present.all())
            count, width = start.shape
            value, _ = self.check(
                spec, start.reshape(-1), length.reshape(-1), np.repeat(month, width)
            )
            return value.reshape(count, width), present
        # Optional fields are mostly empty: check only the cells that hold something.
        rows, columns = np.nonzero(present)
        value, _ = self.check(
            FieldSpec(spec.form, True, spec.lengths),
            start[rows, columns],
            length[rows, columns],
            month[rows],
        )
        full = np.zeros(start.shape, dtype=value.dtype)
        full[rows, columns] = value
        return full, present

    def check(
        self,
        spec: FieldSpec,
        start: np.ndarray,
        length: np.ndarray,
        month: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(values, present)`` of the cells under ``spec``, or ``NotClean``."""
        present = length > 0
        if spec.required:
            require(present.all())
        elif spec.form != "text" and not present.all():
            # Optional fields are mostly empty: check only the cells that hold something.
            chosen = np.flatnonzero(present)
            value, _ = self.check(
                FieldSpec(spec.form, True, spec.lengths),
                start[chosen],
                length[chosen],
                None if month is None else month[chosen],
            )
            full = np.zeros(length.size, dtype=value.dtype)
            full[chosen] = value
            return full, present
        form, zeros = spec.form, np.zeros(length.size, dtype=np.int64)
        if form == "text" or length.size == 0:
            return zeros, present
        if form in ("digits", "insurer"):
            allowed = np.isin(length, np.array(spec.lengths)) | ~present
            require(allowed.all())
            value = self.digits(start, length, max(spec.lengths))
            if form == "insurer":
                self._check_each_distinct(spec, start, length)
            return value, present
        if form == "int":
            return self.digits(start, length, spec.lengths[0]), present
        if form == "decimal":
            return self._decimal(start, length), present
        if form == "gyymm":
            require(np.isin(length, (0, 5)).all())
            return self._gyymm(self.digits(start, length, 5), present), present
        if form == "gyymmdd":
            require(np.isin(length, (0, 7)).all())
            return self._gyymmdd(self.digits(start, length, 7), present), present
        if form == "monthday":
            assert month is not None
            return self._month_day(start, length, present, month), present
        if form == "modifiers":
            require(((length % 4 == 0) & (length <= 80)).all())
            raw, mask = self._matrix(start, length, int(length.max()))
            require(not (((raw < 48) | (raw > 57)) & mask).any())
            return zeros, present
        raw, _ = self._matrix(start, length, 2)
        if form == "code":
            alnum = (
                ((raw[:, 0] >= 48) & (raw[:, 0] <= 57))
                | ((raw[:, 0] >= 65) & (raw[:, 0] <= 90))
                | ((raw[:, 0] >= 97) & (raw[:, 0] <= 122))
            )
            require((((length == 1) & alnum) | ~present).all())
            return zeros, present
        if form == "primary":
            primary = (length == 2) & (raw[:, 0] == 48) & (raw[:, 1] == 49)
            require((primary | ~present).all())
            return primary.astype(np.int64), present
        if form == "sex":
            require(((length == 1) & ((raw[:, 0] == 49) | (raw[:, 0] == 50))).all())
            return raw[:, 0].astype(np.int64) - 48, present
        raise AssertionError(f"unknown field form {form!r}")

    def _check_each_distinct(self, spec: FieldSpec, start: np.ndarray, length: np.ndarray) -> None:
        """The precise reader's check of each distinct value: a file names few 保険者番号."""
        for raw in pc.unique(self.strings(start, length)).to_pylist():
            try:
                check_field(spec, raw, None)
            except ValueError:
                raise NotClean from None

    def _decimal(self, start: np.ndarray, length: np.ndarray) -> np.ndarray:
        """整数部5桁・小数部5桁 (1–5 digits, optionally "." and 1–5 digits) as floats."""
        require(length.size == 0 or int(length.max()) <= 11)
        width = int(length.max())
        if width == 0:
            return np.zeros(length.size, dtype=np.float64)
        raw, mask = self._matrix(start, length, width)
        dot = (raw == 46) & mask
        require(not (((raw < 48) | (raw > 57)) & mask & ~dot).any())
        dots = dot.sum(axis=1)
        require((dots <= 1).all())
        whole = np.where(dots == 1, dot.argmax(axis=1), length)
        fraction = np.where(dots == 1, length - whole - 1, 0)
        present = length > 0
        require(
            (
                ((whole >= 1) & (whole <= 5) & ((dots == 0) | (fraction >= 1)) & (fraction <= 5))
                | ~present
            ).all()
        )
        # the digits without the dot, as one integer, then scaled: exact as float(Decimal(raw))
        columns = np.arange(width)[None, :]
        exponent = np.where(
            columns < whole[:, None],
            length[:, None] - 1 - columns - dots[:, None],
            length[:, None] - 1 - columns,
        )
        weight = np.where(mask & ~dot, np.power(10, np.clip(exponent, 0, 18), dtype=np.int64), 0)
        digits = np.where(mask & ~dot, raw.astype(np.int64) - 48, 0)
        integer = (digits * weight).sum(axis=1)
        scaled: np.ndarray = integer / np.power(10.0, fraction)
        return scaled

    def _gyymm(self, value: np.ndarray, present: np.ndarray) -> np.ndarray:
        era, yy, month = value // 10000, value // 100 % 100, value % 100
        era = np.where(present, era, 5)
        # absent cells read as 令和2年1月 (any valid month), then are masked by the caller
        yy, month = np.where(present, yy, 2), np.where(present, month, 1)
        require(((era >= 1) & (era <= 5) & (yy >= 1) & (month >= 1) & (month <= 12)).all())
        year = _ERA_BASE[era] + yy
        first = civil_days(year, month, np.ones_like(month))
        last = first + month_length(year, month) - 1
        require(((last >= _ERA_FIRST[era]) & (first <= _ERA_LAST[era])).all())
        return first

    def _gyymmdd(self, value: np.ndarray, present: np.ndarray) -> np.ndarray:
        era, yy = value // 1000000, value // 10000 % 100
        month, day = value // 100 % 100, value % 100
        era = np.where(present, era, 5)
        yy = np.where(present, yy, 2)
        month, day = np.where(present, month, 1), np.where(present, day, 1)
        require(((era >= 1) & (era <= 5) & (yy >= 1) & (month >= 1) & (month <= 12)).all())
        year = _ERA_BASE[era] + yy
        require(((day >= 1) & (day <= month_length(year, month))).all())
        days = civil_days(year, month, day)
        require(((days >= _ERA_FIRST[era]) & (days <= _ERA_LAST[era])).all())
        return days

    def _month_day(
        self, start: np.ndarray, length: np.ndarray, present: np.ndarray, month: np.ndarray
    ) -> np.ndarray:
        require(np.isin(length, (0, 2, 4, 7)).all())
        value = self.digits(start, length, 7)
        full = length == 7
        out = self._gyymmdd(np.where(full, value, 5020101), full)
        year, service = year_month(month)
        short = (length == 2) | (length == 4)
        day = np.where(length == 2, value, value % 100)
        wanted = np.where(length == 4, value // 100, service)
        require((((wanted >= 1) & (wanted <= 12)) | ~short).all())
        wanted = np.where(short, wanted, 1)
        year = year - (wanted > service)
        require((((day >= 1) & (day <= month_length(year, wanted))) | ~short).all())
        return np.where(short, civil_days(year, wanted, np.maximum(day, 1)), out)

    def strings(self, start: np.ndarray, length: np.ndarray) -> pa.Array:
        """The cells as an Arrow string column (cp932 decoded)."""
        count = int(length.size)
        offsets = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(length, out=offsets[1:])
        total = int(offsets[-1])
        index = np.repeat(start - offsets[:-1], length) + np.arange(total)
        payload = self.buf[index]
        if payload.tobytes().isascii():
            return pa.StringArray.from_buffers(
                count, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(payload.tobytes())
            )
        # Decode once: the cells joined by line feeds (which no cell holds).
        separated = np.full(total + count, 10, dtype=np.uint8)
        separated[np.arange(total) + np.repeat(np.arange(count), length)] = payload
        texts = separated.tobytes().decode(ENCODING).split("\n")[:count]
        return pa.array(texts, pa.string())

    def text(self, start: np.ndarray, length: np.ndarray) -> list[str]:
        values: list[str] = self.strings(start, length).to_pylist()
        return values
