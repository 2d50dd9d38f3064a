"""Normalisation of the five basic items (基本5情報) before they are compared.

Two records name the same person only when all five agree after this normalisation:
漢字氏名, カナ氏名, 生年月日, 性別, 住所. The rules remove differences of notation, never of
substance: width (全角/半角), spaces, kana script and legacy big kana, registered variant
kanji (異体字, ``data/kanji_variants.tsv``), and the ways an address writes 丁目・番地・号.
The prefecture of an address is ignored only when one of the two records does not write it.
docs/formats.md §4 lists every rule with why it is safe.

When in doubt a rule is left out: a notation difference that survives sends a submission to
review (safe), while a rule that merges two different values could link the wrong person.
So 々 is not expanded, 大字/字 and 郡 are not dropped, case is kept, and building and room
parts of an address are compared as written.

Every ``normalize_*`` function is idempotent (``f(f(x)) == f(x)``) and cached: the importer calls
:func:`match_key` once per record, and household members share addresses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
import re
import unicodedata
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from kokuho.store import data_text

_CACHE = 1 << 16


def _load_variants() -> dict[str, str]:
    """異体字 → 標準字, from the data file ``kanji_variants.tsv`` (variant, standard, note)."""
    table: dict[str, str] = {}
    text = data_text("kanji_variants.tsv")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        variant, standard = line.split("\t")[:2]
        table[variant] = standard
    return table


VARIANTS: Final[Mapping[str, str]] = MappingProxyType(_load_variants())

#: Characters that only separate words or choose a glyph: every Unicode space (NFKC makes
#: the ideographic space U+0020), zero-width spaces, a stray BOM, and the variation selectors
#: (IVS) with which 住基 systems pick a glyph (辻 with one or two dots) of the same character.
_BLANKS = (
    "".join(chr(c) for c in range(0x3100) if chr(c).isspace())
    + "\u200b\u2060\ufeff"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)
#: Dash-like characters that records use interchangeably for 長音 in kana and for "-" in
#: addresses (NFKC already maps ｰ to ー and － to -).
_DASHES = "‐‑‒–—―−─━ー-~〜"
_NUMERALS = "〇一二三四五六七八九十百千"
_DIGIT_VALUE = {char: value for value, char in enumerate("〇一二三四五六七八九")}
_UNIT_VALUE = {"十": 10, "百": 100, "千": 1000}


def _class(chars: str) -> re.Pattern[str]:
    """A character class written as ranges: listed one by one, a few hundred characters
    (the IVS block) make every search scan them all."""
    codes = sorted({ord(char) for char in chars})
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    parts = (
        re.escape(chr(low)) + ("-" + re.escape(chr(high)) if high > low else "")
        for low, high in ranges
    )
    return re.compile("[" + "".join(parts) + "]")


def _table(*pairs: tuple[str, str | None]) -> dict[int, str | None]:
    return {ord(char): target for char, target in pairs}


_KANJI_TABLE = _table(*((c, None) for c in _BLANKS), *VARIANTS.items())
_KANJI_ODD = _class(_BLANKS.replace(" ", "") + "".join(VARIANTS))

_KANA_TABLE = _table(
    *((c, None) for c in _BLANKS + "・"),  # スミス・ジョン: ・ separates like a space
    # Hiragana to katakana: the blocks are 0x60 apart (ぁ…ゖ → ァ…ヶ).
    *((chr(code), chr(code + 0x60)) for code in range(ord("ぁ"), ord("ゖ") + 1)),
    # Half-width systems cannot write small kana, so ｼﾔｼﾝ and シャシン must compare equal.
    *zip(
        "ァィゥェォッャュョヮヵヶぁぃぅぇぉっゃゅょゎゕゖ",
        "アイウエオツヤユヨワカケ" * 2,
        strict=True,
    ),
    *((c, "ー") for c in _DASHES),
)

_KANA_ODD = _class("".join(chr(code) for code in _KANA_TABLE))

_ADDRESS_TABLE = _table(
    *((c, None) for c in _BLANKS),
    *VARIANTS.items(),
    *((c, "-") for c in _DASHES),
    # 霞ヶ関 / 霞ケ関 / 霞ヵ関: the small ヶ is a way of writing ケ in place names.
    ("ヶ", "ケ"),
    ("ヵ", "カ"),
)
_ADDRESS_ODD = _class(_BLANKS + "".join(VARIANTS) + _DASHES.replace("-", "") + "ヶヵ")
#: Some records write the prefecture, some leave it to the municipality. It is ignored only
#: when one side lacks it (see :func:`same_address`).
_PREFECTURES = frozenset([
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県",
    "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県",
    "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県",
    "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県",
    "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県",
])  # fmt: skip
_SPACE_BETWEEN_DIGITS = re.compile(r"(?<=[0-9]) +(?=[0-9])")
_HAS_NUMERAL = _class(_NUMERALS)
# A kanji numeral run is a number when a block marker or "-" follows it, or a digit, "-" or
# a marker precedes it (目 of 丁目, 地 of 番地); elsewhere (三条, 十日町) it is a name.
_KANJI_NUMBER = re.compile(
    f"(?:(?<=[0-9\\-のノ番号目地])[{_NUMERALS}]+|[{_NUMERALS}]+(?=丁目|番|号|の|ノ|-|$))"
)
# 丁目・番地・番・号・の and dashes after a number: one "-" before the next number, nothing
# before text (10号サンハイツ = 10 サンハイツ) or at the end. 番町/番丁 are town names.
_MARKERS = r"(?<=[0-9])(?:丁目|番地|番(?![町丁])|号|の|ノ|-)+"
_BLOCK_INNER = re.compile(_MARKERS + "(?=[0-9])")
_BLOCK_END = re.compile(_MARKERS + "(?![0-9])")
_DASH_RUN = re.compile(r"-{2,}")


def _settle(text: str) -> str:
    """Composes what the earlier steps brought together (カ + a dakuten freed from a space),
    so that a second pass finds nothing left to change."""
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def _nfkc(value: str) -> str:
    # NFKC is quick on text that is already normal, which the ideographic space is not;
    # spaces go first so that most names take the quick path.
    text = unicodedata.normalize("NFKC", value.replace("\u3000", "").replace(" ", ""))
    return text.replace(" ", "") if " " in text else text


@lru_cache(maxsize=_CACHE)
def normalize_kanji_name(value: str) -> str:
    """漢字氏名: width (NFKC), spaces removed, 異体字 mapped to the standard form (髙 → 高)."""
    text = _nfkc(value)
    if _KANJI_ODD.search(text):
        text = text.translate(_KANJI_TABLE)
    return _settle(text)


@lru_cache(maxsize=_CACHE)
def normalize_kana_name(value: str) -> str:
    """カナ氏名: hiragana, full- and half-width katakana (with ﾞ/ﾟ) compare equal; legacy big
    kana (ｼﾔｼﾝ = シャシン); every dash-like 長音 is ー; spaces and ・ removed."""
    # NFKC turns half-width kana and their separate dakuten into composed full-width katakana;
    # the spacing ゛/゜ become combining marks first so that they compose too.
    if "゛" in value or "゜" in value:
        value = value.replace("゛", "\u3099").replace("゜", "\u309a")
    text = _nfkc(value)
    if _KANA_ODD.search(text):
        text = text.translate(_KANA_TABLE)
    return _settle(text)


def _kanji_to_int(text: str) -> int:
    """四 → 4, 十二 → 12, 二十三 → 23, 百五 → 105, and positional 二〇三 → 203."""
    total = 0
    current = 0
    for char in text:
        unit = _UNIT_VALUE.get(char)
        if unit is None:
            current = current * 10 + _DIGIT_VALUE[char]
        else:
            total += (current or 1) * unit
            current = 0
    return total + current


def _number(match: re.Match[str]) -> str:
    return str(_kanji_to_int(match.group(0)))


@lru_cache(maxsize=_CACHE)
def address_parts(value: str) -> tuple[str, str]:
    """住所 as ``(都道府県, the rest)``, both normalised; the prefecture is ``""`` when the
    record does not write one. ``香川県高松市番町四丁目１番１０号``, ``高松市番町4-1-10`` and
    ``高松市番町４丁目１番地１０`` have the same rest; ``1の2`` is ``1-2``. Building and room
    parts are kept, so different rooms stay different."""
    text = unicodedata.normalize("NFKC", value)
    if " " in text:
        # 4-1-10 101 is block 10 room 101, not 10101.
        text = _SPACE_BETWEEN_DIGITS.sub("-", text).replace(" ", "")
    if _ADDRESS_ODD.search(text):
        text = text.translate(_ADDRESS_TABLE)
    prefecture = _prefix(text)
    # 香川県香川県… is a typing slip; a second, different prefecture stays in the rest, where
    # it can match nothing written normally.
    while prefecture and text.startswith(prefecture):
        text = text[len(prefecture) :]
    if _HAS_NUMERAL.search(text):
        text = _KANJI_NUMBER.sub(_number, text)
    text = _BLOCK_END.sub("", _BLOCK_INNER.sub("-", text))
    if "--" in text:
        text = _DASH_RUN.sub("-", text)
    return prefecture, _settle(text.rstrip("-"))


def _prefix(text: str) -> str:
    for size in (3, 4):
        if text[:size] in _PREFECTURES:
            return text[:size]
    return ""


def normalize_address(value: str) -> str:
    """住所 in one normal notation, the prefecture kept when the record writes one. Compare
    addresses with :func:`same_address`, not by this string: a record may omit the prefecture."""
    prefecture, rest = address_parts(value)
    return prefecture + rest


def same_address(a: str, b: str) -> bool:
    """Whether two 住所 name the same place: the rest is equal after normalisation, and the
    prefectures are equal, or one record does not write one. 府中市 is in 東京都 and in 広島県,
    伊達市 in 北海道 and 福島県, 朝日町 in four prefectures: two prefectures that differ are
    two places however equal the rest is."""
    prefecture_a, rest_a = address_parts(a)
    prefecture_b, rest_b = address_parts(b)
    if rest_a != rest_b:
        return False
    return not prefecture_a or not prefecture_b or prefecture_a == prefecture_b


def fuller_address(stored: str, incoming: str) -> str:
    """The 住所 to keep when a record writes ``incoming`` for a person stored at ``stored``:
    ``incoming`` (a move, a new notation, a prefecture ``stored`` lacked), unless it is the
    same place without the prefecture ``stored`` writes. A person that any record placed in a
    prefecture stays there, so a record without one can never bridge it to a namesake in
    another prefecture (東京都府中市 + ``府中市…`` + 広島県府中市 are two persons)."""
    bare = address_parts(stored)[0] and not address_parts(incoming)[0]
    return stored if bare and same_address(stored, incoming) else incoming


_SAME: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "name_kanji": lambda a, b: normalize_kanji_name(a) == normalize_kanji_name(b),
    "name_kana": lambda a, b: normalize_kana_name(a) == normalize_kana_name(b),
    "birth_date": operator.eq,
    "sex": operator.eq,
    "address": same_address,
}
#: The five basic items (基本5情報), in the order findings name them.
ITEMS: Final = tuple(_SAME)


def differing_items(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The basic items on which two records differ after normalisation; none means the same
    person by the five items. My Number linkage and the change-feed import both decide by
    this one function."""
    return [item for item, same in _SAME.items() if not same(a[item], b[item])]


def match_key(name_kanji: str, name_kana: str, birth_date: dt.date, sex: int, address: str) -> str:
    """A digest of the five normalised items, the address without its prefecture, to find
    candidates by index: equal keys are the same person only if :func:`differing_items`
    finds nothing (the prefectures may differ)."""
    joined = "\x1f".join(
        (
            normalize_kanji_name(name_kanji),
            normalize_kana_name(name_kana),
            birth_date.isoformat(),
            str(sex),
            address_parts(address)[1],
        )
    )
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=16).hexdigest()
