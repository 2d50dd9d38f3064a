from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kokuho.ids._checkdigit import luhn_2_1
from kokuho.ids._errors import InvalidIdentifier
from kokuho.ids._text import digits_only

KIND = "insurer number"

#: 法別番号 of the health-insurance schemes (not 公費). Source: MHLW 保険者番号等設定要領 as
#: reproduced on レセプト manuals; 63/72–75 are the 特例退職被保険者 schemes.
HEALTH_INSURANCE_LAW_CODES: Final[dict[str, str]] = {
    "01": "全国健康保険協会管掌健康保険（協会けんぽ）",
    "02": "船員保険",
    "03": "日雇特例被保険者（一般療養）",
    "04": "日雇特例被保険者（特別療養費）",
    "06": "組合管掌健康保険",
    "07": "防衛省職員給与法による自衛官等",
    "31": "国家公務員共済組合",
    "32": "地方公務員等共済組合",
    "33": "警察共済組合",
    "34": "日本私立学校振興・共済事業団",
    "39": "後期高齢者医療",
    "63": "特定健康保険組合（特例退職）",
    "67": "国民健康保険（退職者医療）",
    "72": "国家公務員特例退職",
    "73": "地方公務員等特例退職",
    "74": "警察特例退職",
    "75": "私立学校特例退職",
}


def _check_prefecture(value: str, code: str) -> None:
    if not 1 <= int(code) <= 47:
        raise InvalidIdentifier(KIND, value, f"都道府県番号 {code} is not 01–47")


@dataclass(frozen=True, slots=True)
class InsurerNumber:
    """保険者番号: 6 digits for 国民健康保険 (都道府県2 + 保険者別3 + 検証1), otherwise 8 digits
    (法別2 + 都道府県2 + 保険者別3 + 検証1). An 8-digit value led by ``00`` is a 国保 number
    stored in 8 columns and is kept as its 6 digits."""

    value: str

    @classmethod
    def parse(cls, raw: str) -> InsurerNumber:
        text = digits_only(KIND, raw, (6, 8))
        if len(text) == 8 and text.startswith("00"):
            text = text[2:]
        if len(text) == 8:
            law = text[:2]
            if law not in HEALTH_INSURANCE_LAW_CODES:
                raise InvalidIdentifier(
                    KIND, raw, f"法別番号 {law} is not a health-insurance scheme (公費 or unknown)"
                )
            _check_prefecture(raw, text[2:4])
        else:
            _check_prefecture(raw, text[:2])
        expected = luhn_2_1(text[:-1])
        if int(text[-1]) != expected:
            raise InvalidIdentifier(
                KIND, raw, f"検証番号 is {text[-1]}, the 2-1 digit-sum rule gives {expected}"
            )
        return cls(text)

    @property
    def is_kokuho(self) -> bool:
        """True for a 6-digit 国民健康保険 number (市町村国保 or 国保組合)."""
        return len(self.value) == 6

    @property
    def law_code(self) -> str | None:
        """法別番号, or None for a 6-digit 国保 number."""
        return None if self.is_kokuho else self.value[:2]

    @property
    def prefecture(self) -> str:
        return self.value[:2] if self.is_kokuho else self.value[2:4]

    def __str__(self) -> str:
        return self.value


def with_check_digit(body: str) -> str:
    """Completes a 5- or 7-digit body with its 検証番号 (used by the synthetic prefecture)."""
    return body + str(luhn_2_1(body))
