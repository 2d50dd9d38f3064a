from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from kokuho.ids._errors import InvalidIdentifier
from kokuho.ids._insurer import InsurerNumber
from kokuho.ids._text import to_halfwidth

MAX_SYMBOL_LENGTH = 20  # field limit used by online-check clients (eligibility.md §1)
_SPACES = re.compile(r"\s+")


def _clean(kind: str, raw: str, *, required: bool) -> str:
    text = _SPACES.sub("", to_halfwidth(raw))
    if required and not text:
        raise InvalidIdentifier(kind, raw, "must not be empty")
    if len(text) > MAX_SYMBOL_LENGTH:
        raise InvalidIdentifier(kind, raw, f"is longer than {MAX_SYMBOL_LENGTH} characters")
    if not text.isprintable():
        raise InvalidIdentifier(kind, raw, "contains control characters")
    return text


@lru_cache(maxsize=4096)
def _insurer(raw: str) -> str:
    # A feed file names a handful of insurers a million times.
    return InsurerNumber.parse(raw).value


def parse_symbol(raw: str) -> str:
    """被保険者証等の記号: a string (leading zeros matter); full-width input is made half-width.
    It may be empty: 後期高齢者医療 cards carry a 番号 only."""
    return _clean("記号", raw, required=False)


def parse_number(raw: str) -> str:
    """被保険者証等の番号: a non-empty string, full-width input made half-width."""
    return _clean("番号", raw, required=True)


def parse_branch(raw: str) -> str:
    """枝番: exactly two digits, kept as a string ("01", never 1)."""
    text = to_halfwidth(raw)
    if len(text) != 2 or not (text.isascii() and text.isdigit()):
        raise InvalidIdentifier("枝番", raw, "must be exactly two digits")
    return text


@dataclass(frozen=True, slots=True)
class InsuredId:
    """The individual insured number: 保険者番号 + 記号 + 番号 + 枝番.

    Since the 2019 reform (令和元年法律第9号) this tuple identifies one person for all time.
    """

    insurer: str
    symbol: str
    number: str
    branch: str

    @classmethod
    def parse(cls, insurer: str, symbol: str, number: str, branch: str) -> InsuredId:
        return cls(
            _insurer(insurer),
            parse_symbol(symbol),
            parse_number(number),
            parse_branch(branch),
        )

    def __str__(self) -> str:
        return f"{self.insurer} 記号:{self.symbol or '-'} 番号:{self.number} 枝番:{self.branch}"
