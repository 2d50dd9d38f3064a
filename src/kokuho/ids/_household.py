from __future__ import annotations

from typing import Final

from kokuho.ids._errors import InvalidIdentifier
from kokuho.ids._text import to_halfwidth

KIND: Final = "世帯番号"
#: The longest 世帯番号: the register's ``resident_households.household_id`` column.
MAX_HOUSEHOLD_ID_LENGTH: Final = 20
HOUSEHOLD_ID_RULE: Final = f"must be 1–{MAX_HOUSEHOLD_ID_LENGTH} letters or digits"


def parse_household_id(raw: str) -> str:
    """世帯番号 (docs/formats.md, "世帯番号"), the one format of every edge a household id
    enters by (the resident file, the payments file, the 調定 ledger, the CLI): NFKC with the
    blanks around it dropped (``Ｗ１`` is ``W1``), then 1–20 ASCII letters or digits. Case is
    kept (``w1`` and ``W1`` are two households), as the register has always stored them.

    Raises InvalidIdentifier with ``reason`` "must not be empty" or :data:`HOUSEHOLD_ID_RULE`.
    """
    text = to_halfwidth(raw)
    if not text:
        raise InvalidIdentifier(KIND, raw, "must not be empty")
    if len(text) > MAX_HOUSEHOLD_ID_LENGTH or not (text.isascii() and text.isalnum()):
        raise InvalidIdentifier(KIND, raw, HOUSEHOLD_ID_RULE)
    return text
