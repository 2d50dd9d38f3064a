"""Normalisation of the five basic items (基本5情報) before they are compared.

Two records name the same person only when all five agree after this normalisation:
漢字氏名, カナ氏名, 生年月日, 性別, 住所. The rules remove differences of notation, never of
substance: width (全角/半角), spaces, kana script and legacy small-kana, registered variant
kanji (異体字), and the ways an address writes 丁目・番地・号.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from functools import lru_cache
from importlib import resources

_SPACES = re.compile(r"[\s\u3000]+")
_SMALL_KANA = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_DASHES = re.compile(r"[‐‑‒–—―−－ｰ─━ー-]")


@lru_cache(maxsize=1)
def _variants() -> dict[str, str]:
    """異体字 → 標準字, from the data file ``kanji_variants.tsv``."""
    table: dict[str, str] = {}
    text = resources.files("kokuho").joinpath("data/kanji_variants.tsv").read_text("utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        variant, standard = line.split("\t")[:2]
        table[variant] = standard
    return table


def normalize_kanji_name(value: str) -> str:
    text = _SPACES.sub("", unicodedata.normalize("NFKC", value))
    variants = _variants()
    return "".join(variants.get(char, char) for char in text)


def normalize_kana_name(value: str) -> str:
    # NFKC turns half-width kana (with their separate dakuten) into full-width katakana.
    text = _SPACES.sub("", unicodedata.normalize("NFKC", value))
    katakana = "".join(chr(ord(char) + 0x60) if "ぁ" <= char <= "ゖ" else char for char in text)
    # Half-width systems cannot write small kana, so ｼﾔｼﾝ and シャシン must compare equal.
    return _DASHES.sub("ー", katakana.translate(_SMALL_KANA))


_KANJI_DIGITS = {char: value for value, char in enumerate("〇一二三四五六七八九")}
_KANJI_NUMBER = re.compile(r"[〇一二三四五六七八九十百千]+(?=丁目|番|号|の|[-－]|$)")
_BLOCK = re.compile(r"(\d+)(?:丁目|番地|番|号|の)")


def _kanji_to_int(text: str) -> int:
    total = 0
    current = 0
    for char in text:
        if char in _KANJI_DIGITS:
            current = current * 10 + _KANJI_DIGITS[char] if current else _KANJI_DIGITS[char]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[char]
            total += (current or 1) * unit
            current = 0
    return total + current


def normalize_address(value: str) -> str:
    """``香川県高松市番町四丁目１番１０号`` and ``高松市番町4-1-10`` compare equal."""
    text = _SPACES.sub("", unicodedata.normalize("NFKC", value))
    variants = _variants()
    text = "".join(variants.get(char, char) for char in text)
    # The prefecture is implied by the municipality; some records carry it, some do not.
    text = re.sub(r"^(東京都|北海道|(?:京都|大阪)府|.{2,3}県)", "", text)
    text = _KANJI_NUMBER.sub(lambda m: str(_kanji_to_int(m.group(0))), text)
    text = _DASHES.sub("-", text)
    text = _BLOCK.sub(r"\1-", text)
    return text.rstrip("-")


def match_key(name_kanji: str, name_kana: str, birth_date: dt.date, sex: int, address: str) -> str:
    """A digest of the five normalised items: equal keys mean all five items agree."""
    joined = "\x1f".join(
        (
            normalize_kanji_name(name_kanji),
            normalize_kana_name(name_kana),
            birth_date.isoformat(),
            str(sex),
            normalize_address(address),
        )
    )
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=16).hexdigest()
