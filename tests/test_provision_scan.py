"""The direct-identifier scan of an extract's columns, and generalisation for the research
store (年月, 5-year bands with the top pooled, 市区町村 codes)."""

from __future__ import annotations

import datetime as dt

import pytest

from kokuho.provision import (
    IdentifierFoundError,
    age_band,
    age_band_on,
    age_bands,
    birth_month,
    kinds_of,
    municipality_code,
    refuse_identifiers,
    release_rules,
    scan_columns,
)

HARMLESS = {
    "pid": ["3f9a" * 16, "0b1c" * 16],  # a pseudonymous ID: 64 hex digits
    "sex": [1, 2],
    "age_band": ["70-74", "100+"],
    "birth_month": ["1950-04", "1948-01"],
    "municipality": ["372013", "372021"],
    "service_month": ["2024-05", "2024-06"],
    "category": ["第1号被保険者", "要介護2"],
    "diagnosis": ["2型糖尿病", "高血圧症"],
    "points": [1234, 56789],
    "kana_label": ["ガイライ", "ニュウイン"],  # a category in kana, not a name
}


def test_harmless_columns_pass() -> None:
    assert scan_columns(HARMLESS) == []
    refuse_identifiers(HARMLESS)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("ヤマダ タロウ", "name_kana"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "name_kana"),
        ("やまだ　たろう", "name_kana"),
        ("山田 太郎", "name_kanji"),
        ("髙橋　一", "name_kanji"),
        ("00370015 高松 1234", "insured_number"),
        ("39370010:98765432", "insured_number"),
        ("1950-04-02", "full_date"),
        ("1950/4/2", "full_date"),
        ("19500402", "full_date"),
        ("3250402", "full_date"),  # 和暦 GYYMMDD: 昭和25年4月2日
        ("昭和25年4月2日", "full_date"),
        (dt.date(1950, 4, 2), "full_date"),
        ("123456789018", "my_number"),
        ("1234 5678 9018", "my_number"),
        ("香川県高松市番町一丁目8番15号", "address"),
        ("高松市番町1-8-15", "address"),
    ],
)
def test_each_kind_of_identifier_is_caught(value: object, kind: str) -> None:
    assert kind in kinds_of(value)
    findings = scan_columns({**HARMLESS, "x": ["", value]})
    assert [(f.column, f.kind, f.rows, f.first_row) for f in findings] == [("x", kind, 1, 1)]
    with pytest.raises(IdentifierFoundError) as caught:
        refuse_identifiers({"x": [value]})
    # The refusal names the column and the kind, never the value.
    assert "'x'" in str(caught.value) and str(value) not in str(caught.value)


def test_near_misses_are_not_identifiers() -> None:
    # 12 digits with a wrong check digit (the right one is 8); an impossible date; a wrong
    # insurer check digit; a 5-digit code.
    for value in ("123456789012", "1950-02-30", "00370016 高松 1234", "37201"):
        assert kinds_of(value) == [], value


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("氏名", "name_kanji"),
        ("name", "name_kanji"),
        ("カナ氏名", "name_kana"),
        ("被保険者番号", "insured_number"),
        ("記号", "insured_number"),
        ("生年月日", "full_date"),
        ("birth_date", "full_date"),
        ("個人番号", "my_number"),
        ("住所", "address"),
    ],
)
def test_a_column_named_for_an_identifier_is_refused_even_when_empty(
    column: str, kind: str
) -> None:
    findings = scan_columns({column: []})
    assert [(f.kind, f.rows, f.first_row) for f in findings if f.kind == kind] == [(kind, 0, None)]


def test_age_bands_by_hand() -> None:
    assert age_band(0) == "0-4"
    assert age_band(84, top=85) == "80-84"
    assert age_band(85, top=85) == "85+"
    assert age_band(89, top=90) == "85-89"
    assert age_band(99) == "95-99" and age_band(100) == "100+" and age_band(117) == "100+"
    assert age_bands(top=15) == ("0-4", "5-9", "10-14", "15+")
    # 年齢計算ニ関スル法律: one is a year older at the end of the day before the birthday.
    assert age_band_on(dt.date(1940, 4, 2), dt.date(2025, 4, 1), top=85) == "85+"
    assert age_band_on(dt.date(1940, 4, 3), dt.date(2025, 4, 1), top=85) == "80-84"
    with pytest.raises(ValueError, match="multiple"):
        age_band(50, top=87)
    with pytest.raises(ValueError, match="negative"):
        age_band(-1)
    assert release_rules().age_top_band == 100


def test_birth_month_and_municipality_code() -> None:
    assert birth_month(dt.date(1950, 4, 2)) == "1950-04"
    # 高松市 37201: 3×6 + 7×5 + 2×4 + 0×3 + 1×2 = 63; 63 mod 11 = 8; 11 - 8 = 3.
    assert municipality_code("37201") == "372013"
    assert municipality_code("372013") == "372013"
    # 千代田区 13101: 6 + 15 + 4 + 0 + 2 = 27; 27 mod 11 = 5; 11 - 5 = 6.
    assert municipality_code("13101") == "131016"
    with pytest.raises(ValueError, match="check digit should be 3"):
        municipality_code("372014")
    with pytest.raises(ValueError, match="5 or 6 digits"):
        municipality_code("香川県高松市")
