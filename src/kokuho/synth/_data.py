"""The reference data of the synthetic prefecture: municipalities, insurers, names.

Everything comes from files under ``kokuho/data`` so that a user can replace an unconfirmed
value (for example a 市町村国保 保険者番号) without touching code.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kokuho.ids import InsurerNumber
from kokuho.store import data_text, load_yaml

EMPLOYEE_KINDS = ("kyokai", "kumiai", "kyosai")
#: Characters a value must not contain, because rows are joined without CSV quoting.
_UNQUOTED = frozenset(',"\r\n')


@dataclass(frozen=True, slots=True)
class Town:
    """A 町名/大字. ``chome`` is its number of 丁目; 0 means addresses by 番地."""

    name: str
    chome: int


@dataclass(frozen=True, slots=True)
class Municipality:
    name: str
    district: str  # 郡, empty for a 市
    code: str  # 全国地方公共団体コード
    population: int
    nhi_number: str  # 市町村国保 保険者番号
    towns: tuple[Town, ...]

    @property
    def full_name(self) -> str:
        return self.district + self.name


@dataclass(frozen=True, slots=True)
class Insurer:
    number: str
    name: str
    kind: str
    municipality_code: str  # only for kokuho_municipal
    share: float  # of the members of its kind
    symbol: str  # 記号 prefix for 共済 members


@dataclass(frozen=True, slots=True)
class Prefecture:
    name: str
    municipalities: tuple[Municipality, ...]
    insurers: tuple[Insurer, ...]  # the 17 国保 first, in municipality order, then the rest
    age_percent: tuple[float, float, float]  # 0–14, 15–64, 65+
    age_shape: tuple[float, ...]  # weights of the 5-year groups 0–4 … 100+


def municipality_code(raw: object) -> str:
    """全国地方公共団体コード: 5 digits and a check digit (weights 6-5-4-3-2, mod 11,
    check = (11 − remainder) mod 10), so that a mistyped code in the data file is caught."""
    code = str(raw)
    if len(code) != 6 or not code.isdigit():
        raise ValueError(f"kagawa data: municipality code {code!r} is not 6 digits")
    remainder = sum(int(d) * w for d, w in zip(code[:5], (6, 5, 4, 3, 2), strict=True)) % 11
    if int(code[5]) != (11 - remainder) % 10:
        raise ValueError(f"kagawa data: municipality code {code!r} fails its check digit")
    return code


def _text(name: str) -> str:
    return data_text(name)


def _clean(value: Any, what: str) -> str:
    text = "" if value is None else str(value)
    if _UNQUOTED & set(text):
        raise ValueError(f"kagawa data: {what} {text!r} contains a comma, quote or newline")
    return text


@lru_cache(maxsize=1)
def load_prefecture() -> Prefecture:
    """Reads ``data/kagawa.yaml``; every insurer number must pass its 検証番号."""
    raw = load_yaml(_text("kagawa.yaml"), "kagawa.yaml")
    municipalities: list[Municipality] = []
    insurers: list[Insurer] = []
    for item in raw["municipalities"]:
        towns = tuple(Town(_clean(name, "town"), int(chome)) for name, chome in item["towns"])
        municipality = Municipality(
            name=_clean(item["name"], "municipality"),
            district=_clean(item.get("district"), "district"),
            code=municipality_code(item["code"]),
            population=int(item["population"]),
            nhi_number=InsurerNumber.parse(str(item["nhi"]["insurer_number"])).value,
            towns=towns,
        )
        municipalities.append(municipality)
        insurers.append(
            Insurer(
                municipality.nhi_number,
                f"{municipality.name}国民健康保険",
                "kokuho_municipal",
                municipality.code,
                1.0,
                "",
            )
        )
    for item in raw["insurers"]:
        insurers.append(
            Insurer(
                number=InsurerNumber.parse(str(item["insurer_number"])).value,
                name=_clean(item["name"], "insurer"),
                kind=str(item["kind"]),
                municipality_code="",
                share=float(item.get("share", 1.0)),
                symbol=_clean(item.get("symbol"), "symbol"),
            )
        )
    ages = raw["age_structure"]
    percent = ages["percent"]
    return Prefecture(
        name=str(raw["prefecture"]["name"]),
        municipalities=tuple(municipalities),
        insurers=tuple(insurers),
        age_percent=(float(percent["0-14"]), float(percent["15-64"]), float(percent["65+"])),
        age_shape=tuple(float(x) for x in ages["five_year_shape"]),
    )


@dataclass(frozen=True, slots=True)
class NameTables:
    """Surnames and given names with their readings, plus cumulative weights for drawing."""

    surnames: tuple[tuple[str, str], ...]
    surname_weights: tuple[float, ...]  # cumulative
    #: (sex, era start year) → names and cumulative weights; eras in ascending order.
    given: dict[tuple[int, int], tuple[tuple[tuple[str, str], ...], tuple[float, ...]]]
    eras: tuple[int, ...]


def _rows(name: str) -> list[list[str]]:
    return [
        line.split("\t")
        for line in _text(name).splitlines()
        if line.strip() and not line.startswith("#")
    ]


@lru_cache(maxsize=1)
def load_names() -> NameTables:
    surnames = [
        (_clean(k, "name"), _clean(r, "name"), float(w)) for k, r, w in _rows("names_surnames.txt")
    ]
    grouped: dict[tuple[int, int], list[tuple[str, str, float]]] = {}
    for sex, era, kanji, kana, weight in _rows("names_given.txt"):
        key = (int(sex), int(era))
        grouped.setdefault(key, []).append(
            (_clean(kanji, "name"), _clean(kana, "name"), float(weight))
        )
    given = {
        key: (
            tuple((kanji, kana) for kanji, kana, _ in names),
            tuple(itertools.accumulate(w for _, _, w in names)),
        )
        for key, names in grouped.items()
    }
    return NameTables(
        surnames=tuple((kanji, kana) for kanji, kana, _ in surnames),
        surname_weights=tuple(itertools.accumulate(w for _, _, w in surnames)),
        given=given,
        eras=tuple(sorted({era for _, era in grouped})),
    )


@lru_cache(maxsize=1)
def kanji_variants() -> dict[str, str]:
    """標準字 → one 異体字 (高 → 髙), from the table the register normalises with, so that a
    variant planted here is one the register is known to treat as notation only."""
    table: dict[str, str] = {}
    for row in _rows("kanji_variants.tsv"):
        variant, standard = row[0], row[1]
        table.setdefault(standard, variant)
    return table
