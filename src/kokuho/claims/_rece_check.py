"""Checks of one field of a レセ電 record, shared by the precise reader and the writer."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Final

from kokuho.claims._rece_layout import FieldSpec, month_day
from kokuho.ids import (
    InstitutionCode,
    InsurerNumber,
    InvalidIdentifier,
    parse_gyymm,
    parse_gyymmdd,
)

_DECIMAL: Final = re.compile(r"[0-9]{1,5}(?:\.[0-9]{1,5})?")
#: Characters of a bad value a problem quotes: enough to find it in the file, not a whole
#: line of garbage (a binary file's first "field" runs to its first comma).
SHOWN_CHARACTERS: Final = 40


def shown(raw: str) -> str:
    """``raw`` as a problem quotes it: its repr, cut to :data:`SHOWN_CHARACTERS` characters
    with the length said when longer."""
    if len(raw) <= SHOWN_CHARACTERS:
        return repr(raw)
    return f"{raw[:SHOWN_CHARACTERS]!r}… ({len(raw):,} characters)"


def _digits(raw: str) -> bool:
    return raw.isascii() and raw.isdigit()


def check_field(spec: FieldSpec, raw: str, service_month: dt.date | None) -> object:
    """The value of ``raw`` under ``spec`` (None when empty and optional); raises ValueError
    with the reason. ``monthday`` fields need the claim's service month (None: not checked)."""
    if raw == "":
        if spec.required:
            raise ValueError("required, but empty")
        return None
    form = spec.form
    if form == "text":
        return raw
    if form in ("digits", "insurer"):
        if not _digits(raw) or len(raw) not in spec.lengths:
            sizes = " or ".join(str(n) for n in spec.lengths)
            raise ValueError(f"{shown(raw)} is not {sizes} digits")
        if form == "insurer":
            try:
                InsurerNumber.parse(raw)
            except InvalidIdentifier as error:
                raise ValueError(f"{shown(raw)}: {error.reason}") from None
        return raw
    if form == "int":
        if not _digits(raw) or len(raw) > spec.lengths[0]:
            raise ValueError(f"{shown(raw)} is not a number of at most {spec.lengths[0]} digits")
        return int(raw)
    if form == "decimal":
        if not _DECIMAL.fullmatch(raw):
            raise ValueError(f"{shown(raw)} is not a quantity (整数部5桁・小数部5桁)")
        return Decimal(raw)
    if form in ("gyymm", "gyymmdd"):
        try:
            if form == "gyymm":
                year, month = parse_gyymm(raw)
                return dt.date(year, month, 1)
            return parse_gyymmdd(raw)
        except InvalidIdentifier as error:
            raise ValueError(f"{shown(raw)}: {error.reason}") from None
    if form == "monthday":
        return _month_day(raw, service_month)
    if form == "modifiers":
        if not _digits(raw) or len(raw) % 4 or len(raw) > 80:
            raise ValueError(f"{shown(raw)} is not 4-digit 修飾語コード (at most 20)")
        return raw
    if form == "code":
        if len(raw) != 1 or not (raw.isascii() and raw.isalnum()):
            raise ValueError(f"{shown(raw)} is not one letter or digit")
        return raw
    if form == "primary":
        if raw != "01":
            raise ValueError(f"{shown(raw)}: 主傷病 is '01' or empty")
        return True
    if form == "sex":
        if raw not in ("1", "2"):
            raise ValueError(f"{shown(raw)}: 男女区分 is 1 or 2")
        return int(raw)
    raise AssertionError(f"unknown field form {form!r}")


def institution_problem(prefecture: str, fee_table: str, code: str) -> str | None:
    """Why the header's 都道府県 + 点数表 + 医療機関コード is not a valid 10-digit 医療機関コード
    (None when it is)."""
    try:
        InstitutionCode.from_claim(prefecture, fee_table, code)
    except InvalidIdentifier as error:
        return f"{prefecture}{fee_table}{code}: {error.reason}"
    return None


def _month_day(raw: str, service_month: dt.date | None) -> dt.date | None:
    if not _digits(raw) or len(raw) not in (2, 4, 7):
        raise ValueError(f"{shown(raw)} is not DD, MMDD or GYYMMDD")
    if len(raw) == 7:
        try:
            return parse_gyymmdd(raw)
        except InvalidIdentifier as error:
            raise ValueError(f"{shown(raw)}: {error.reason}") from None
    if service_month is None:
        return None
    try:
        return month_day(raw, service_month)
    except ValueError:
        raise ValueError(f"{shown(raw)}: no such day in the claim's months") from None
