"""The record layouts of the 介護給付費明細書 交換情報 CSV as kokuho reads and writes them.

One table drives the reader (``_read``) and the writer (``_write``): each record type lists its
fields in order with their 項目名 (for error messages), their form, and the attribute of the
model (``_model``) they carry. The layout follows the shape of the 国保連 交換情報 (コントロール
レコード, データレコード of 基本情報・明細情報・集計情報, エンドレコード); field order, lengths and
the code values are UNCONFIRMED (docs/formats.md §10).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Final

from kokuho.care._model import CARE_LEVELS
from kokuho.store import quoted

CONTROL: Final = "1"  # レコード種別: コントロールレコード
DATA: Final = "2"  # データレコード
END: Final = "3"  # エンドレコード

BASIC: Final = "01"  # レコード種別コード: 基本情報
DETAIL: Final = "02"  # 明細情報
TOTAL: Final = "10"  # 集計情報


@dataclass(frozen=True, slots=True)
class Field:
    """One field. ``form`` is one of

    - ``fixed``: exactly ``value`` (the record's kind);
    - ``digits``: exactly ``size`` ASCII digits, kept as text;
    - ``int``: 1 to ``size`` ASCII digits, an integer (no sign, no leading zeros but ``0``);
    - ``yyyymm`` / ``yyyymmdd``: a 西暦 month / day;
    - ``sex``: ``1`` or ``2``;
    - ``level``: a 要介護状態区分コード of ``CARE_LEVELS``;
    - ``price``: 1–3 digits, ``.`` and 2 digits (単位数単価 in 円);
    - ``kana``: katakana (全角 or 半角), spaces and ー, up to ``size`` characters;
    - ``text``: up to ``size`` characters, none of ``,``, ``"``, CR, LF.
    """

    name: str
    form: str
    size: int = 0
    attr: str = ""  # the model's attribute ("" for fields the writer derives)
    required: bool = True
    value: str = ""


@dataclass(frozen=True, slots=True)
class Layout:
    kind: str  # "control", "basic", "detail", "total", "end"
    fields: tuple[Field, ...]

    def label(self, number: int) -> str:
        return self.fields[number - 1].name


def _f(name: str, form: str, size: int = 0, attr: str = "", *, required: bool = True) -> Field:
    return Field(name, form, size, attr, required)


_NUMBER = _f("レコード番号", "int", 8)
_KEYS = (
    _f("サービス提供年月", "yyyymm", 0, "service_month"),
    _f("事業所番号", "digits", 10, "provider"),
    _f("証記載保険者番号", "digits", 6, "insurer"),
    _f("被保険者番号", "digits", 10, "insured"),
)
#: The fields of a 明細・集計 record that must equal those of its 基本情報.
KEY_ATTRS: Final = tuple(f.attr for f in _KEYS)


def _data(code: str, *fields: Field) -> tuple[Field, ...]:
    return (
        Field("レコード種別", "fixed", value=DATA),
        _NUMBER,
        _f("交換情報識別番号", "digits", 4, "exchange_id"),
        Field("レコード種別コード", "fixed", value=code),
        *_KEYS,
        *fields,
    )


LAYOUTS: Final[dict[str, Layout]] = {
    "control": Layout("control", (
        Field("レコード種別", "fixed", value=CONTROL),
        _NUMBER,
        _f("ボリューム通番", "int", 2, "volume"),
        _f("レコード件数", "int", 8),
        _f("データ種別", "digits", 3, "data_kind"),
        _f("事業所番号", "digits", 10, "provider"),
        _f("都道府県番号", "digits", 2, "prefecture"),
        _f("処理対象年月", "yyyymm", 0, "billing_month"),
    )),
    "basic": Layout("basic", _data(
        BASIC,
        _f("被保険者氏名(カナ)", "kana", 40, "name_kana"),
        _f("生年月日", "yyyymmdd", 0, "birth_date"),
        _f("性別コード", "sex", 0, "sex"),
        _f("要介護状態区分コード", "level", 0, "care_level"),
        _f("認定有効期間 開始年月日", "yyyymmdd", 0, "valid_from"),
        _f("認定有効期間 終了年月日", "yyyymmdd", 0, "valid_to"),
        _f("保険給付率", "int", 3, "benefit_rate"),
    )),
    "detail": Layout("detail", _data(
        DETAIL,
        _f("サービス種類コード", "digits", 2, "service_type"),
        _f("サービス項目コード", "digits", 4, "item_code"),
        _f("単位数", "int", 5, "units"),
        _f("日数・回数", "int", 3, "count"),
        _f("サービス単位数", "int", 7, "service_units"),
        _f("摘要", "text", 20, "note", required=False),
    )),
    "total": Layout("total", _data(
        TOTAL,
        _f("サービス種類コード", "digits", 2, "service_type"),
        _f("サービス実日数", "int", 2, "days"),
        _f("給付単位数", "int", 8, "units"),
        _f("単位数単価", "price", 0, "unit_price"),
        _f("保険請求額", "int", 9, "claimed"),
        _f("利用者負担額", "int", 9, "copay"),
    )),
    "end": Layout("end", (Field("レコード種別", "fixed", value=END), _NUMBER)),
}  # fmt: skip

#: レコード種別コード of a data record → layout.
DATA_KINDS: Final = {BASIC: "basic", DETAIL: "detail", TOTAL: "total"}

_KANA = re.compile(r"[\u30a0-\u30ff\uff66-\uff9f\u3000 ]+")
_FORBIDDEN = re.compile(r"[,\"\r\n\x00-\x1f\x7f]")
_PRICE = re.compile(r"[0-9]{1,3}\.[0-9]{2}")


class BadValue(ValueError):
    """A field's text that does not have its form; the message is the reason."""


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


@lru_cache(maxsize=4096)  # a file repeats few months and days: parse each once
def _month(text: str) -> dt.date:
    if len(text) != 6 or not _digits(text):
        raise BadValue(f"expected a month YYYYMM, got {quoted(text)}")
    try:
        return dt.date(int(text[:4]), int(text[4:]), 1)
    except ValueError:
        raise BadValue(f"no such month {quoted(text)}") from None


@lru_cache(maxsize=65536)
def _day(text: str) -> dt.date:
    if len(text) != 8 or not _digits(text):
        raise BadValue(f"expected a date YYYYMMDD, got {quoted(text)}")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise BadValue(f"no such date {quoted(text)}") from None


def parse(spec: Field, text: str) -> object:
    """The value of ``text`` in field ``spec``; raises ``BadValue`` with the reason. An empty
    optional field is ``""``."""
    if text == "":
        if spec.required:
            raise BadValue("is required")
        return ""
    form = spec.form
    if form == "fixed":
        if text != spec.value:
            raise BadValue(f"expected {spec.value!r}, got {quoted(text)}")
        return text
    if form == "digits":
        if len(text) != spec.size or not _digits(text):
            raise BadValue(f"expected {spec.size} digits, got {quoted(text)}")
        return text
    if form == "int":
        if not _digits(text) or len(text) > spec.size:
            raise BadValue(f"expected a number of 1–{spec.size} digits, got {quoted(text)}")
        if len(text) > 1 and text[0] == "0":
            raise BadValue(f"a number has no leading zeros, got {quoted(text)}")
        return int(text)
    if form == "yyyymm":
        return _month(text)
    if form == "yyyymmdd":
        return _day(text)
    if form == "sex":
        if text not in ("1", "2"):
            raise BadValue(f"expected 1 (男) or 2 (女), got {quoted(text)}")
        return int(text)
    if form == "level":
        if text not in CARE_LEVELS:
            raise BadValue(f"not a 要介護状態区分コード of a claim (12, 13, 21–25): {quoted(text)}")
        return text
    if form == "price":
        if not _PRICE.fullmatch(text):
            raise BadValue(f"expected 円 with two decimals (10.00), got {quoted(text)}")
        return Decimal(text)
    if form == "kana":
        if len(text) > spec.size or not _KANA.fullmatch(text):
            raise BadValue(
                f"expected katakana of at most {spec.size} characters, got {quoted(text)}"
            )
        return text
    if _FORBIDDEN.search(text) or len(text) > spec.size:
        raise BadValue(f'at most {spec.size} characters, without , " or control characters')
    return text


def render(spec: Field, value: object) -> str:
    """The text of ``value`` in field ``spec`` (the inverse of ``parse``); raises ``BadValue``
    when the value cannot be written in that form."""
    if spec.form == "fixed":
        text = spec.value
    elif value == "" and not spec.required:
        return ""
    elif spec.form in ("yyyymm", "yyyymmdd") and isinstance(value, dt.date):
        text = f"{value.year:04d}{value.month:02d}"
        if spec.form == "yyyymmdd":
            text += f"{value.day:02d}"
        elif value.day != 1:
            raise BadValue(f"a month is its 1st day, got {value.isoformat()}")
    elif spec.form == "price" and isinstance(value, Decimal):
        text = f"{value:.2f}"
        if Decimal(text) != value:
            raise BadValue(f"単位数単価 has two decimals, got {value}")
    else:
        text = str(value)
    parse(spec, text)  # what the writer writes, the reader reads back
    return text
