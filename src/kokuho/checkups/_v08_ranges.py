"""The largest value each numeric (PQ) item of a V08 checkup document may carry, read from
``data/checkup_item_formats.yaml``.

The MHLW 特定健診 項目コード表 gives each item a 値の桁数 (a format such as ``NNN.N``); the
reader refuses a value larger than its item's format allows (``NNN.N`` → 999.9), so 1e308 or a
waist of 99999999 cm never reaches 階層化 or the rates. The formats in the file are kokuho's
assumptions (``confirmed: false``: the table itself was not read), technical bounds rather
than clinical ranges. Only the magnitude counts: more decimals than the format shows are
accepted, and the smallest value is 0 (a negative value is refused on its own).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

from kokuho.store import data_text, load_yaml

FILE: Final = "checkup_item_formats.yaml"
_FORMAT_NAME: Final = "kokuho checkup item formats 1"
#: Up to 15 integer and 6 decimal digits: the largest such value is still exact as a float
#: to the last digit shown.
_FORMAT: Final = re.compile(r"(N{1,15})(?:\.(N{1,6}))?")
_DEFAULT_LABEL: Final = "an item without a format of its own"


@dataclass(frozen=True, slots=True)
class ItemFormat:
    """The format of one item (or of every item without one): ``largest`` is the largest
    value its digits allow, ``shown`` that value as the format writes it."""

    label: str
    format: str
    largest: float
    shown: str
    source: str

    def refusal(self, quoted_value: str) -> str:
        """The reason a value above ``largest`` is refused (``quoted_value`` as problems
        quote values)."""
        return (
            f"value {quoted_value} is out of range: {self.label} allows 0 to {self.shown} "
            f"(format {self.format})"
        )


@dataclass(frozen=True, slots=True)
class ItemFormats:
    """The formats by 17-character item code, the default for the others, and which entries
    are marked ``confirmed: false`` (item names, and "default")."""

    items: Mapping[str, ItemFormat]
    default: ItemFormat
    unconfirmed: tuple[str, ...]

    def of(self, code: str) -> ItemFormat:
        return self.items.get(code, self.default)


def _fail(reason: str) -> ValueError:
    return ValueError(f"checkup item formats: {reason}")


def _format(raw: Mapping[str, Any], label: str, where: str, unconfirmed: list[str]) -> ItemFormat:
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise _fail(f"{where}: needs a source")
    confirmed = raw.get("confirmed")
    if not isinstance(confirmed, bool):
        raise _fail(f"{where}: needs confirmed: true/false")
    if not confirmed:
        unconfirmed.append(where)
    form = raw.get("format")
    matched = _FORMAT.fullmatch(form) if isinstance(form, str) else None
    if matched is None or not isinstance(form, str):
        raise _fail(
            f"{where}: format {form!r} is not N… or N….N… (at most 15 digits before the "
            "point and 6 after)"
        )
    whole, decimals = matched.group(1), matched.group(2) or ""
    shown = "9" * len(whole) + (f".{'9' * len(decimals)}" if decimals else "")
    return ItemFormat(label, form, float(Decimal(shown)), shown, source.strip())


def parse_item_formats(text: str, name: str = FILE) -> ItemFormats:
    """Reads a formats file (the layout of ``data/checkup_item_formats.yaml``); fails on a
    missing source or ``confirmed``, a malformed format, or an item code that is not 17
    characters or is listed twice."""
    raw = load_yaml(text, name)
    if not isinstance(raw, Mapping) or raw.get("format") != _FORMAT_NAME:
        raise _fail(f"{name}: the file's format is not {_FORMAT_NAME!r}")
    unconfirmed: list[str] = []
    default_raw = raw.get("default")
    if not isinstance(default_raw, Mapping):
        raise _fail("default: is missing")
    default = _format(default_raw, _DEFAULT_LABEL, "default", unconfirmed)
    items: dict[str, ItemFormat] = {}
    entries = raw.get("items")
    if not isinstance(entries, list):
        raise _fail("items: is missing")
    for index, entry in enumerate(entries):
        label = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(label, str) or not label:
            raise _fail(f"items[{index}]: needs a name")
        item = _format(entry, label, label, unconfirmed)
        codes = entry.get("codes")
        if not isinstance(codes, list) or not codes:
            raise _fail(f"{label}: needs codes")
        for code in codes:
            if not isinstance(code, str) or len(code) != 17:
                raise _fail(f"{label}: item code {code!r} is not 17 characters")
            if code in items:
                raise _fail(
                    f"{label}: item code {code} is already listed under {items[code].label}"
                )
            items[code] = item
    return ItemFormats(items, default, tuple(unconfirmed))


@lru_cache(maxsize=1)
def load_item_formats() -> ItemFormats:
    """The formats of ``kokuho/data/checkup_item_formats.yaml`` (or its local copy; read
    once)."""
    return parse_item_formats(data_text(FILE))
