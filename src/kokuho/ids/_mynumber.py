from __future__ import annotations

import hashlib
import hmac

from kokuho.ids._checkdigit import mynumber_check
from kokuho.ids._errors import InvalidIdentifier
from kokuho.ids._text import digits_only

KIND = "My Number"


class MyNumber:
    """個人番号: 11 digits and a 検査用数字. It never prints itself; only :meth:`keyed_hash`
    leaves this object for storage (番号法: no My Number in clear outside its lawful use)."""

    __slots__ = ("_digits",)

    def __init__(self, digits: str) -> None:
        self._digits = digits

    @classmethod
    def parse(cls, raw: str) -> MyNumber:
        reason: str | None = None
        try:
            text = digits_only(KIND, raw, (12,))
        except InvalidIdentifier as error:
            reason = error.reason
        if reason is not None:
            # The error must not echo the number back into logs. It is raised outside the
            # except block because even `from None` keeps the unmasked error in __context__.
            raise InvalidIdentifier(KIND, mask(raw), reason)
        expected = mynumber_check(text[:11])
        if int(text[11]) != expected:
            reason = "検査用数字 does not match (総務省令第85号 §5)"
            raise InvalidIdentifier(KIND, mask(raw), reason)
        return cls(text)

    def keyed_hash(self, key: bytes) -> str:
        """HMAC-SHA256 of the digits under a key kept outside the database."""
        return hmac.new(key, self._digits.encode("ascii"), hashlib.sha256).hexdigest()

    def last4(self) -> str:
        """The last four digits, as members' notices show them since 2024."""
        return self._digits[-4:]

    def __repr__(self) -> str:
        return f"MyNumber(********{self._digits[-4:]})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MyNumber) and hmac.compare_digest(self._digits, other._digits)

    def __hash__(self) -> int:
        return hash(self._digits)


def mask(raw: str) -> str:
    text = raw.strip()
    return "*" * max(len(text) - 4, 0) + text[-4:]
