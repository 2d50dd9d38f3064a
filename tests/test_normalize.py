"""Normalisation of the five basic items: notation differences vanish, substance stays."""

from __future__ import annotations

import datetime as dt
import unicodedata
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kokuho.registry._normalize import (
    VARIANTS,
    address_parts,
    differing_items,
    match_key,
    normalize_address,
    normalize_kana_name,
    normalize_kanji_name,
    same_address,
)

NORMALIZERS = [normalize_kanji_name, normalize_kana_name, normalize_address]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("髙橋 一郎", "高橋一郎"),
        ("齋藤　花子", "斎藤 花子"),
        ("渡邊", "渡辺"),
        ("渡邉", "渡辺"),
        ("山﨑", "山崎"),
        ("𠮷田", "吉田"),
        ("山田\u3000太郎", "山田 太郎"),
        ("ＳＭＩＴＨ", "SMITH"),
        ("辻\U000e0100", "辻"),  # an IVS picks a glyph, not another character
    ],
)
def test_kanji_names_equal(a: str, b: str) -> None:
    assert normalize_kanji_name(a) == normalize_kanji_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("佐藤", "佐籐"),  # a look-alike is another character
        ("斎藤", "斉藤"),
        ("高橋一郎", "高橋二郎"),
        ("佐々木", "佐佐木"),  # 々 is not expanded: review, not a guess
        ("SMITH", "smith"),  # case is kept: no rule that could merge two names
    ],
)
def test_kanji_names_differ(a: str, b: str) -> None:
    assert normalize_kanji_name(a) != normalize_kanji_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("やまだ たろう", "ヤマダ タロウ"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"),
        ("ｶﾞｸ", "ガク"),
        ("ﾊﾟﾝ", "パン"),
        ("カ゛ク", "ガク"),  # a spacing dakuten
        ("ｼﾔｼﾝ", "シャシン"),  # legacy big kana
        ("ﾊﾂﾄﾘ", "はっとり"),
        ("ジョー", "ジョ－"),
        ("ジョー", "ｼﾞｮｰ"),
        ("ジョー", "ジョ-"),
        ("ジョー", "ジョ―"),
        ("スミス・ジョン", "スミス ジョン"),
        ("ヴァン", "ゔぁん"),
    ],
)
def test_kana_names_equal(a: str, b: str) -> None:
    assert normalize_kana_name(a) == normalize_kana_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("サトウ", "サトー"),  # 長音 against a vowel is a spelling, not notation
        ("ヤマダタロウ", "ヤマダジロウ"),
        ("カトウ", "ガトウ"),
        ("ハナ", "パナ"),
    ],
)
def test_kana_names_differ(a: str, b: str) -> None:
    assert normalize_kana_name(a) != normalize_kana_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("香川県高松市番町四丁目１番１０号", "高松市番町4-1-10"),
        ("高松市番町４丁目１番地１０", "高松市番町4-1-10"),
        ("高松市番町4丁目1-10", "高松市番町4－1－10"),
        ("高松市番町4ー1ー10", "高松市番町4‐1‐10"),
        ("高松市番町十二番二十三号", "高松市番町12-23"),
        ("高松市番町一の二", "高松市番町1-2"),
        ("高松市番町1の2", "高松市番町1-2"),
        ("高松市番町1ノ2", "高松市番町1-2"),
        ("高松市番町4丁目1番10号 サンハイツ201号室", "高松市番町4-1-10サンハイツ201号室"),
        ("高松市番町4-1-10　サンハイツ201", "香川県高松市番町4-1-10 サンハイツ201"),
        ("千代田区霞ヶ関1-2-2", "東京都千代田区霞ケ関一丁目2番2号"),
        ("仙台市青葉区一番町4丁目", "宮城県仙台市青葉区1番町四丁目"),
        ("高松市百間町", "香川県 高松市 百間町"),
    ],
)
def test_addresses_equal(a: str, b: str) -> None:
    assert same_address(a, b) and same_address(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("高松市番町4-1-10", "高松市番町4-1-11"),
        ("高松市番町4-1-10", "丸亀市番町4-1-10"),  # another municipality
        ("高松市番町4-1-10 101", "高松市番町4-1-10 102"),  # rooms stay different
        ("高松市番町4-1-10 101", "高松市番町4-1-10101"),  # a space separates numbers
        ("高松市番町4-1-10サンハイツ101", "高松市番町4-1-10メゾン101"),
        ("高松市番町12", "高松市番町1-2"),
        ("高松市番町二十三", "高松市番町203"),
    ],
)
def test_addresses_differ(a: str, b: str) -> None:
    assert normalize_address(a) != normalize_address(b)
    assert not same_address(a, b) and not same_address(b, a)


#: Municipalities of one name in several prefectures (全国地方公共団体コード lists each).
SAME_NAMED = {
    "府中市": ["東京都", "広島県"],
    "伊達市": ["北海道", "福島県"],
    "朝日町": ["山形県", "富山県", "三重県"],
    "美里町": ["宮城県", "埼玉県", "熊本県"],
    "池田町": ["北海道", "福井県", "長野県", "岐阜県", "徳島県"],
}


@pytest.mark.parametrize(("town", "prefectures"), SAME_NAMED.items())
def test_same_named_municipalities_of_different_prefectures_differ(
    town: str, prefectures: list[str]
) -> None:
    street = f"{town}本町一丁目2番3号"
    for first in prefectures:
        for second in prefectures:
            same = same_address(first + street, second + " " + street)
            assert same == (first == second), (first, second)
        # The prefecture is ignored only when one record does not write it.
        assert same_address(first + street, street) and same_address(street, first + street)


def test_prefecture_parts() -> None:
    assert address_parts("広島県府中市府川町315") == ("広島県", "府中市府川町315")
    assert address_parts("府中市府川町315") == ("", "府中市府川町315")
    assert address_parts("香川県香川県高松市") == ("香川県", "高松市")  # a typing slip
    # a second, different prefecture is not dropped: it can match nothing written normally
    assert address_parts("東京都広島県府中市") == ("東京都", "広島県府中市")
    assert not same_address("東京都広島県府中市", "広島県府中市")


def test_differing_items_applies_the_prefecture_rule() -> None:
    born = dt.date(1980, 1, 2)
    tokyo = {"name_kanji": "府中 一郎", "name_kana": "フチュウ イチロウ", "birth_date": born,
             "sex": 1, "address": "東京都府中市宮西町2-24"}  # fmt: skip
    hiroshima = tokyo | {"address": "広島県府中市宮西町二丁目24番地"}
    bare = tokyo | {"address": "府中市宮西町2丁目24番"}
    assert differing_items(tokyo, hiroshima) == ["address"]
    assert differing_items(tokyo, bare) == differing_items(hiroshima, bare) == []
    # The key finds candidates only; it leaves the prefecture out on purpose.
    assert match_key(**tokyo) == match_key(**hiroshima) == match_key(**bare)


def test_kanji_numbers_in_addresses() -> None:
    assert normalize_address("番町十二") == "番町12"
    assert normalize_address("番町二十三番") == "番町23"
    assert normalize_address("番町百五番地") == "番町105"
    assert normalize_address("番町二〇三号") == "番町203"
    # a numeral that is part of a name stays a name
    assert normalize_address("新潟県十日町市") == "新潟県十日町市"
    assert normalize_address("京都市中京区三条通") == "京都市中京区三条通"


def test_prefecture_only_as_a_prefix() -> None:
    assert address_parts("三重県津市") == ("三重県", "津市")
    assert address_parts("神奈川県横浜市")[1] == address_parts("横浜市")[1]
    assert address_parts("京都府京都市") == ("京都府", "京都市")
    assert address_parts("京都市京都府庁前") == ("", "京都市京都府庁前")


def test_match_key_equal_on_notation_and_different_on_substance() -> None:
    born = dt.date(1970, 5, 15)
    key = match_key("髙橋 一郎", "ﾀｶﾊｼ ｲﾁﾛｳ", born, 1, "香川県高松市番町四丁目1番10号")
    assert key == match_key("高橋一郎", "たかはし いちろう", born, 1, "高松市番町4-1-10")
    assert len(key) == 32
    assert key != match_key("高橋一郎", "タカハシイチロウ", born, 2, "高松市番町4-1-10")
    other_day = dt.date(1970, 5, 16)
    assert key != match_key("高橋一郎", "タカハシイチロウ", other_day, 1, "高松市番町4-1-10")
    assert key != match_key("高橋一郎", "タカハシイチロウ", born, 1, "高松市番町4-1-11")
    # the separator keeps items apart: moving text between items changes the key
    assert match_key("高橋", "イチロウ", born, 1, "a") != match_key(
        "高橋イ", "チロウ", born, 1, "a"
    )


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_idempotent_on_arbitrary_text(text: str) -> None:
    for normalize in NORMALIZERS:
        once = normalize(text)
        assert normalize(once) == once


_TRICKY = st.text(
    alphabet=st.sampled_from(
        list("〇一二三四五六七八九十百千丁目番地号町のノ-ー－‐ 　0123456789０１")
        + list("香川県三重京都府高松市ぁかがゔう゛゜ｶﾞﾊﾟｰ・･ヶヵァ髙邊")
        + ["\u3099", "\u309a", "\u0301", "\U000e0100", "\t"]
    ),
    max_size=24,
)


@settings(max_examples=1500, deadline=None)
@given(_TRICKY)
def test_idempotent_on_address_and_kana_notation(text: str) -> None:
    for normalize in NORMALIZERS:
        once = normalize(text)
        assert normalize(once) == once


def test_variant_table_is_marked_and_one_step() -> None:
    text = resources.files("kokuho").joinpath("data/kanji_variants.tsv").read_text("utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("confirmed: false" in line for line in header)
    assert any(line.startswith("# source:") for line in header)
    assert {"髙", "齋", "邊"} <= set(VARIANTS)
    for variant, standard in VARIANTS.items():
        assert standard not in VARIANTS, f"{variant} → {standard} needs a second step"
        assert variant != standard
        for char in (variant, standard):
            assert unicodedata.normalize("NFKC", char) == char
    assert "籐" not in VARIANTS and "斉" not in VARIANTS


def test_the_user_docs_list_every_equivalence() -> None:
    """docs/formats.md §4a lists each registered 異体字 pair and each kana and address rule
    the code applies, so that an office can see exactly what is treated as equal."""
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[1] / "docs" / "formats.md").read_text("utf-8")
    section = docs[docs.index("### 4a.") : docs.index("## 5.")]
    missing = [f"{v}→{s}" for v, s in VARIANTS.items() if f"{v}→{s}" not in section]
    assert missing == []
    for rule in ("ァィゥェォッャュョヮヵヶ", "霞ヶ関", "IVS", "NFKC", "the prefecture is ignored"):
        assert rule in section
    assert len(VARIANTS) == section.count("→") - section.count("→standard")
