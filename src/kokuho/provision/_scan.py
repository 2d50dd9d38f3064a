"""The direct-identifier scan (直接識別子の検査): every column of an extract, by its name and by
every value, before anything leaves the source side. A finding names the column, the kind and
the rows; it never repeats the value it found.

Kinds: ``name_kana`` (カナ氏名), ``name_kanji`` (漢字氏名), ``insured_number`` (保険者番号 +
記号・番号), ``full_date`` (a date to the day: a birth date is a direct identifier, and the
research store keeps 年月), ``my_number`` (12 digits with a valid 検査用数字), ``address``
(a block number after a place name). A column whose *name* says it holds one
of these is refused even when its values look harmless (or are empty).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kokuho.ids import InsurerNumber, InvalidIdentifier, mynumber_check, parse_gyymmdd

_KANA = "\u3041-\u3096\u30a1-\u30fa\u30fc\u30fd\u30fe\uff66-\uff9f"
_KANJI = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヶ"
_PATTERNS: dict[str, re.Pattern[str]] = {
    # 姓 and 名 with a space between: ヤマダ タロウ, やまだ たろう, ﾔﾏﾀﾞ ﾀﾛｳ.
    "name_kana": re.compile(f"^[{_KANA}]+[ \u3000]+[{_KANA}]+$"),
    "name_kanji": re.compile(f"^[{_KANJI}]{{1,5}}[ \u3000]+[{_KANJI}]{{1,5}}$"),
    # A block number after a place: 一丁目, 3番地, 5号, 12-3 (not 第1号, a category).
    "address": re.compile(
        f"[{_KANJI}\u30a1-\u30f6].*?(?<![第0-9一二三四五六七八九十])"
        "(?:[0-9]+|[一二三四五六七八九十]+)(?:丁目|番地|番|号)"
        f"|[{_KANJI}][0-9]+-[0-9]+"
    ),
}
_DATE_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?$")
_DATE_8 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATE_JP = re.compile(
    r"^(?:明治|大正|昭和|平成|令和|[MTSHR])\s*(\d{1,2}|元)[年./-](\d{1,2})[月./-](\d{1,2})日?$"
)
_GYYMMDD = re.compile(r"^[1-5]\d{6}$")
_INSURED = re.compile(r"^(\d{8}|\d{6})[\s:/_,\-]+\S+")
#: Column names that say what a column holds (case-insensitive, after NFKC).
_NAMES: dict[str, re.Pattern[str]] = {
    "name_kana": re.compile(
        r"カナ氏名|氏名カナ|フリガナ|ふりがな|name_?kana|kana_?name|^kana$", re.I
    ),
    "name_kanji": re.compile(
        r"氏名|名前|^姓$|^名$|^(?:full_?|last_?|first_?|family_?|given_?|person_?|patient_?)?"
        r"name(?:_kanji)?$",
        re.I,
    ),
    "insured_number": re.compile(r"記号|被保険者番号|被保険者証|証番号|枝番|insured|symbol", re.I),
    "full_date": re.compile(r"生年月日|誕生日|birth_?date|date_?of_?birth|^dob$", re.I),
    "my_number": re.compile(r"個人番号|マイナンバー|my_?number", re.I),
    "address": re.compile(r"住所|所在地|address", re.I),
}


@dataclass(frozen=True, slots=True)
class IdentifierFinding:
    """A column that holds (or is named for) a direct identifier."""

    column: str
    kind: str
    rows: int
    """How many values matched (0: the column's name alone)."""
    first_row: int | None
    """The 0-based index of the first matching value."""

    def __str__(self) -> str:
        where = (
            "by its name"
            if self.first_row is None
            else (f"{self.rows} value(s), first at row {self.first_row}")
        )
        return f"column {self.column!r}: {self.kind} ({where})"


class IdentifierFoundError(ValueError):
    """An extract holds a direct identifier and may not leave the source side."""

    def __init__(self, findings: list[IdentifierFinding]) -> None:
        self.findings = findings
        super().__init__("direct identifiers: " + "; ".join(map(str, findings)))


def _full_date(text: str) -> bool:
    for pattern in (_DATE_ISO, _DATE_8):
        match = pattern.match(text)
        if match:
            year, month, day = map(int, match.groups())
            if 1868 <= year <= 2100:
                try:
                    dt.date(year, month, day)
                except ValueError:
                    return False
                return True
            return False
    if _DATE_JP.match(text):
        return True
    if _GYYMMDD.match(text):
        try:
            parse_gyymmdd(text)
        except InvalidIdentifier:
            return False
        return True
    return False


def _my_number(text: str) -> bool:
    digits = re.sub(r"[\s\-]", "", text)
    return len(digits) == 12 and digits.isdigit() and mynumber_check(digits[:11]) == int(digits[11])


def _insured(text: str) -> bool:
    match = _INSURED.match(text)
    if not match:
        return False
    try:
        InsurerNumber.parse(match.group(1))
    except InvalidIdentifier:
        return False
    return True


def kinds_of(value: object) -> list[str]:
    """The direct-identifier kinds one value looks like (none for numbers and hashes)."""
    if isinstance(value, dt.datetime | dt.date):
        return ["full_date"]
    if not isinstance(value, str):
        value = str(value) if isinstance(value, int) and not isinstance(value, bool) else ""
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return []
    found = [kind for kind, pattern in _PATTERNS.items() if pattern.search(text)]
    raw = value.strip()
    if "name_kana" not in found and _PATTERNS["name_kana"].search(raw):
        found.append("name_kana")  # NFKC composes ﾀﾞ; the raw text may match where it did not
    if _full_date(text):
        found.append("full_date")
    if _my_number(text):
        found.append("my_number")
    if _insured(text):
        found.append("insured_number")
    return found


def scan_columns(columns: Mapping[str, Iterable[object]]) -> list[IdentifierFinding]:
    """Every direct identifier in ``columns`` (name → values), by name and by value."""
    findings = []
    for column, values in columns.items():
        name = unicodedata.normalize("NFKC", str(column))
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        for index, value in enumerate(values):
            for kind in kinds_of(value):
                counts[kind] = counts.get(kind, 0) + 1
                first.setdefault(kind, index)
        named = {kind for kind, pattern in _NAMES.items() if pattern.search(name)}
        for kind in sorted(named | set(counts)):
            findings.append(
                IdentifierFinding(str(column), kind, counts.get(kind, 0), first.get(kind))
            )
    return findings


def refuse_identifiers(columns: Mapping[str, Iterable[object]]) -> None:
    """Raises IdentifierFoundError when :func:`scan_columns` finds anything."""
    findings = scan_columns(columns)
    if findings:
        raise IdentifierFoundError(findings)
