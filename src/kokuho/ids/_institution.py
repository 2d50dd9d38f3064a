from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kokuho.ids._checkdigit import luhn_2_1
from kokuho.ids._errors import InvalidIdentifier
from kokuho.ids._text import digits_only

KIND = "institution code"

#: 点数表番号. Source: JCMI 2022 abstract 2-G-3-04; other tables (訪問看護 …) are not confirmed.
SCORE_TABLES: Final[dict[str, str]] = {"1": "医科", "3": "歯科", "4": "調剤"}


@dataclass(frozen=True, slots=True)
class InstitutionCode:
    """医療機関コード in its 10-digit form: 都道府県2 + 点数表1 + 郡市区2 + 番号4 + 検証1.

    The 7-digit form used in claims (IR/YK records) cannot be checked alone, because its
    検証番号 is computed over the prefecture and 点数表 too: use :meth:`from_claim`.
    """

    value: str

    @classmethod
    def parse(cls, raw: str) -> InstitutionCode:
        text = digits_only(KIND, raw, (10, 7))
        if len(text) == 7:
            raise InvalidIdentifier(
                KIND, raw, "a 7-digit code can be checked only with its prefecture and 点数表"
            )
        if not 1 <= int(text[:2]) <= 47:
            raise InvalidIdentifier(KIND, raw, f"都道府県番号 {text[:2]} is not 01–47")
        if text[2] not in SCORE_TABLES:
            raise InvalidIdentifier(
                KIND, raw, f"点数表番号 {text[2]} is not 1 (医科), 3 (歯科) or 4 (調剤)"
            )
        expected = luhn_2_1(text[:9])
        if int(text[9]) != expected:
            raise InvalidIdentifier(
                KIND, raw, f"検証番号 is {text[9]}, the 2-1 digit-sum rule gives {expected}"
            )
        return cls(text)

    @classmethod
    def from_claim(cls, prefecture: str, score_table: str, code7: str) -> InstitutionCode:
        """Builds and checks the 10-digit code from the IR/YK record's three fields."""
        short = digits_only(KIND, code7, (7,))
        # Each field is checked on its own: otherwise prefecture "011" with an empty 点数表
        # would concatenate to a valid-looking 10-digit code.
        pref = digits_only(KIND, prefecture, (1, 2)).zfill(2)
        table = digits_only(KIND, score_table, (1,))
        return cls.parse(f"{pref}{table}{short}")

    @property
    def prefecture(self) -> str:
        return self.value[:2]

    @property
    def kind(self) -> str:
        """医科, 歯科 or 調剤."""
        return SCORE_TABLES[self.value[2]]

    @property
    def short(self) -> str:
        """The 7-digit code printed in claims."""
        return self.value[3:]

    def __str__(self) -> str:
        return self.value
