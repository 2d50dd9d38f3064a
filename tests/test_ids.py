"""kokuho.ids: check digits, 和暦, fiscal years and ages.

Expected values come from the worked examples in codes-masters-formats.md §1 and §3, from
hand computation, or from a second formulation of the same rule written here (the python-stdnum
My Number weights, Luhn *validation* over the whole number, 民法第143条 period ends). None of
them reuse the implementation's own formula.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kokuho.ids import (
    ERAS,
    HEALTH_INSURANCE_LAW_CODES,
    FiscalYear,
    InstitutionCode,
    InsuredId,
    InsurerNumber,
    InvalidIdentifier,
    MyNumber,
    age_at_fiscal_year_end,
    age_on,
    era_of,
    luhn_2_1,
    mynumber_check,
    parse_branch,
    parse_gyymm,
    parse_gyymmdd,
    parse_household_id,
    parse_number,
    parse_symbol,
    to_gyymm,
    to_gyymmdd,
    wareki_label,
    with_check_digit,
)

# ---------------------------------------------------------------------------------------------
# Helpers and independent formulations


def fullwidth(text: str) -> str:
    """ASCII → full-width forms by code point, independently of the NFKC the code uses."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def luhn_valid(number: str) -> bool:
    """Luhn *validation* of a complete number (check digit included, weight 1 from the right).

    The code computes the digit to append; this checks the finished number sums to 0 mod 10.
    Agreement of the two formulations is the cross-check.
    """
    total = 0
    for position, char in enumerate(reversed(number)):
        product = int(char) * (2 if position % 2 == 1 else 1)
        total += sum(int(d) for d in str(product))
    return total % 10 == 0


STDNUM_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def stdnum_remainder(body11: str) -> int:
    """S mod 11 with python-stdnum's left-to-right weights (stdnum/jp/in_.py)."""
    return sum(w * int(d) for w, d in zip(STDNUM_WEIGHTS, body11, strict=True)) % 11


def stdnum_check(body11: str) -> int:
    """python-stdnum: check = (-S) % 11 % 10; the 省令 says 11 − r, and 0 when r ≤ 1."""
    return -stdnum_remainder(body11) % 11 % 10


def year_completed_on(birth: dt.date, years: int) -> dt.date:
    """The day at whose end ``years`` years of age are complete.

    年齢計算ニ関スル法律 counts from the birth day; 民法第143条第2項 ends the period on the day
    before the 応当日, or on the month's last day when the month has no 応当日 (29 February).
    """
    year = birth.year + years
    try:
        return dt.date(year, birth.month, birth.day) - dt.timedelta(days=1)
    except ValueError:
        return dt.date(year, 2, 28)


def reference_age(birth: dt.date, day: dt.date) -> int:
    years = 0
    while year_completed_on(birth, years + 1) <= day:
        years += 1
    return years


digit = st.sampled_from("0123456789")


def digit_strings(length: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=length, max_size=length)


prefectures = st.integers(1, 47).map("{:02d}".format)
law_codes = st.sampled_from(sorted(HEALTH_INSURANCE_LAW_CODES))
kokuho_numbers = st.builds(lambda p, n: with_check_digit(p + n), prefectures, digit_strings(3))
eight_digit_insurers = st.builds(
    lambda law, p, n: with_check_digit(law + p + n), law_codes, prefectures, digit_strings(3)
)
insurer_numbers = kokuho_numbers | eight_digit_insurers
institution_codes = st.builds(
    lambda p, t, n: with_check_digit(p + t + n),
    prefectures,
    st.sampled_from("134"),
    digit_strings(6),
)
mynumber_bodies = digit_strings(11)
valid_mynumbers = mynumber_bodies.map(lambda b: b + str(stdnum_check(b)))


def substitutions(valid: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
    """(valid, the same with exactly one digit replaced by a different digit)."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, str]:
        value = draw(valid)
        position = draw(st.integers(0, len(value) - 1))
        new = draw(digit.filter(lambda d: d != value[position]))
        return value, value[:position] + new + value[position + 1 :]

    return build()


# ---------------------------------------------------------------------------------------------
# 保険者番号


@pytest.mark.parametrize("value", ["01130012", "33120015"])
def test_published_insurer_numbers_are_valid(value: str) -> None:
    assert InsurerNumber.parse(value).value == value


def test_kyokai_kenpo_tokyo_details() -> None:
    number = InsurerNumber.parse("01130012")
    assert number.law_code == "01"
    assert number.prefecture == "13"
    assert not number.is_kokuho
    assert str(number) == "01130012"


def test_worked_example_12345674_has_a_right_check_digit_but_a_public_expense_law_code() -> None:
    # The papayaku example is a check-digit exercise: its 法別 12 is 生活保護 (公費), so as a
    # 保険者番号 it is refused for the scheme, not for the digit.
    assert luhn_valid("12345674")
    assert luhn_2_1("1234567") == 4
    with pytest.raises(InvalidIdentifier, match="法別番号 12"):
        InsurerNumber.parse("12345674")


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("3312001", 5),  # worked step by step in the notes: 15 → 10 − 5
        ("1234567", 4),
        ("0113001", 2),
        ("5401602", 7),  # 難病 公費負担者番号
        ("8813445", 7),  # 東京都 corrected 88134458 to 88134457
        ("011011371", 9),  # 医療機関コード 0110113719
        ("37001", 5),  # by hand: 1·2 + 0·1 + 0·2 + 7·1 + 3·2 = 15
    ],
)
def test_luhn_check_digit_of_published_examples(body: str, check: int) -> None:
    assert luhn_2_1(body) == check
    assert with_check_digit(body) == f"{body}{check}"


def test_public_expense_numbers_are_not_insurer_numbers() -> None:
    # 54016027 has a correct check digit: it must be refused for its 法別 alone.
    assert luhn_valid("54016027")
    with pytest.raises(InvalidIdentifier, match="not a health-insurance scheme") as caught:
        InsurerNumber.parse("54016027")
    assert caught.value.kind == "insurer number"
    assert caught.value.value == "54016027"


def test_tokyo_misissued_public_expense_number_fails_the_check_digit() -> None:
    assert not luhn_valid("88134458")
    assert luhn_valid("88134457")


@pytest.mark.parametrize("law", ["01", "02", "06", "31", "32", "33", "34", "39", "63", "67", "75"])
def test_health_insurance_law_codes_accepted(law: str) -> None:
    value = with_check_digit(f"{law}13001")
    assert InsurerNumber.parse(value).law_code == law


@pytest.mark.parametrize("law", ["10", "12", "15", "21", "51", "54", "80", "88", "99", "05"])
def test_public_expense_and_unknown_law_codes_refused(law: str) -> None:
    with pytest.raises(InvalidIdentifier, match=f"法別番号 {law}"):
        InsurerNumber.parse(with_check_digit(f"{law}13001"))


def test_kokuho_six_digit_number() -> None:
    number = InsurerNumber.parse("370015")
    assert number.is_kokuho
    assert number.law_code is None
    assert number.prefecture == "37"


def test_kokuho_stored_in_eight_columns_is_normalised_to_six() -> None:
    assert InsurerNumber.parse("00370015") == InsurerNumber.parse("370015")
    assert InsurerNumber.parse("00370015").value == "370015"


@pytest.mark.parametrize(
    "raw", ["０１１３００１２", " 01130012 ", "\u300001130012\u3000", "０１１３００１２\n"]
)
def test_insurer_full_width_and_surrounding_space_accepted(raw: str) -> None:
    assert InsurerNumber.parse(raw).value == "01130012"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0113001", "6 or 8 digits, has 7"),
        ("011300120", "6 or 8 digits, has 9"),
        ("37001", "6 or 8 digits, has 5"),
        ("", "digits only"),
        ("0113-0012", "digits only"),
        ("0113O012", "digits only"),
        ("01130013", "検証番号 is 3"),
        ("01000010", "都道府県番号 00"),
        ("01480018", "都道府県番号 48"),
        ("000000", "都道府県番号 00"),
        ("480010", "都道府県番号 48"),
        ("١٢٣٤٥٦", "digits only"),  # Arabic-Indic digits are digits, but not ours
    ],
)
def test_insurer_refusals(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        InsurerNumber.parse(raw)


@pytest.mark.parametrize("prefecture", ["00", "48"])
def test_insurer_prefecture_checked_even_with_a_right_check_digit(prefecture: str) -> None:
    for body in (f"01{prefecture}001", f"{prefecture}001"):
        with pytest.raises(InvalidIdentifier, match="都道府県番号"):
            InsurerNumber.parse(with_check_digit(body))


@given(insurer_numbers)
def test_insurer_with_check_digit_parses_and_every_other_last_digit_fails(value: str) -> None:
    assert InsurerNumber.parse(value).value == value
    for wrong in "0123456789".replace(value[-1], ""):
        with pytest.raises(InvalidIdentifier, match="検証番号"):
            InsurerNumber.parse(value[:-1] + wrong)


@given(substitutions(insurer_numbers))
def test_insurer_any_single_digit_substitution_is_detected(pair: tuple[str, str]) -> None:
    _, changed = pair
    with pytest.raises(InvalidIdentifier):
        InsurerNumber.parse(changed)


@given(digit_strings(8))
def test_insurer_eight_digits_valid_exactly_when_scheme_prefecture_and_luhn_agree(
    raw: str,
) -> None:
    body = raw[2:] if raw.startswith("00") else raw
    law_ok = raw.startswith("00") or raw[:2] in HEALTH_INSURANCE_LAW_CODES
    prefecture = body[:2] if len(body) == 6 else body[2:4]
    expected_valid = law_ok and 1 <= int(prefecture) <= 47 and luhn_valid(raw)
    try:
        parsed = InsurerNumber.parse(raw)
    except InvalidIdentifier:
        assert not expected_valid
    else:
        assert expected_valid
        assert parsed.value == body


@given(kokuho_numbers)
def test_kokuho_number_with_00_prefix_is_the_same_number(value: str) -> None:
    assert InsurerNumber.parse("00" + value) == InsurerNumber.parse(value)


@given(insurer_numbers)
def test_insurer_full_width_parses_to_the_same_value(value: str) -> None:
    assert InsurerNumber.parse(fullwidth(value)) == InsurerNumber.parse(value)


# ---------------------------------------------------------------------------------------------
# 医療機関コード


def test_published_institution_code_is_valid() -> None:
    code = InstitutionCode.parse("0110113719")
    assert code.value == "0110113719"
    assert code.prefecture == "01"
    assert code.kind == "医科"
    assert code.short == "0113719"
    assert str(code) == "0110113719"


@pytest.mark.parametrize(("table", "kind"), [("1", "医科"), ("3", "歯科"), ("4", "調剤")])
def test_institution_score_tables(table: str, kind: str) -> None:
    assert InstitutionCode.parse(with_check_digit(f"13{table}123456")).kind == kind


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0113719", "7-digit code can be checked only with its prefecture"),
        ("011011371", "10 or 7 digits, has 9"),
        ("01101137190", "10 or 7 digits, has 11"),
        ("0110113718", "検証番号 is 8, the 2-1 digit-sum rule gives 9"),
        ("01a0113719", "digits only"),
        (with_check_digit("002011371"), "都道府県番号 00"),
        (with_check_digit("481011371"), "都道府県番号 48"),
        (with_check_digit("012011371"), "点数表番号 2"),
        (with_check_digit("015011371"), "点数表番号 5"),
        (with_check_digit("010011371"), "点数表番号 0"),
    ],
)
def test_institution_refusals(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        InstitutionCode.parse(raw)


def test_institution_full_width_accepted() -> None:
    assert InstitutionCode.parse("０１１０１１３７１９").value == "0110113719"


def test_seven_digit_claim_code_checked_with_its_prefecture_and_table() -> None:
    code = InstitutionCode.from_claim("01", "1", "0113719")
    assert code == InstitutionCode.parse("0110113719")
    assert code.short == "0113719"


def test_claim_prefecture_written_with_one_digit_is_padded() -> None:
    assert InstitutionCode.from_claim("1", "1", "0113719").value == "0110113719"


@pytest.mark.parametrize(
    ("prefecture", "table"),
    [("02", "1"), ("01", "3"), ("01", "4"), ("13", "1")],
)
def test_seven_digit_code_fails_under_another_prefecture_or_table(
    prefecture: str, table: str
) -> None:
    # The check digit covers the prefecture and 点数表: the same 7 digits do not move.
    with pytest.raises(InvalidIdentifier, match="検証番号"):
        InstitutionCode.from_claim(prefecture, table, "0113719")


@pytest.mark.parametrize(
    ("prefecture", "table", "code7"),
    [
        ("011", "", "0113719"),  # would concatenate to the valid 0110113719
        ("", "1", "0113719"),
        ("01", "", "0113719"),
        ("01", "11", "0113719"),
        ("01", "2", "0113719"),
        ("00", "1", "0113719"),
        ("48", "1", "0113719"),
        ("01", "1", "113719"),
        ("01", "1", "0110113719"),
    ],
)
def test_claim_fields_refused(prefecture: str, table: str, code7: str) -> None:
    with pytest.raises(InvalidIdentifier):
        InstitutionCode.from_claim(prefecture, table, code7)


def test_claim_field_error_names_the_field_at_fault() -> None:
    with pytest.raises(InvalidIdentifier, match="1 or 2 digits, has 3") as caught:
        InstitutionCode.from_claim("011", "1", "0113719")
    assert caught.value.value == "011"
    with pytest.raises(InvalidIdentifier, match="digits only") as caught:
        InstitutionCode.from_claim("01", "", "0113719")
    assert caught.value.value == ""


@given(institution_codes)
def test_institution_with_check_digit_parses_and_every_other_last_digit_fails(
    value: str,
) -> None:
    assert InstitutionCode.parse(value).value == value
    assert InstitutionCode.from_claim(value[:2], value[2], value[3:]).value == value
    for wrong in "0123456789".replace(value[-1], ""):
        with pytest.raises(InvalidIdentifier, match="検証番号"):
            InstitutionCode.parse(value[:-1] + wrong)


@given(substitutions(institution_codes))
def test_institution_any_single_digit_substitution_is_detected(pair: tuple[str, str]) -> None:
    _, changed = pair
    with pytest.raises(InvalidIdentifier):
        InstitutionCode.parse(changed)


@given(digit_strings(10))
def test_institution_valid_exactly_when_prefecture_table_and_luhn_agree(raw: str) -> None:
    expected_valid = 1 <= int(raw[:2]) <= 47 and raw[2] in "134" and luhn_valid(raw)
    try:
        InstitutionCode.parse(raw)
    except InvalidIdentifier:
        assert not expected_valid
    else:
        assert expected_valid


@given(institution_codes)
def test_institution_full_width_parses_to_the_same_value(value: str) -> None:
    assert InstitutionCode.parse(fullwidth(value)) == InstitutionCode.parse(value)


# ---------------------------------------------------------------------------------------------
# 個人番号 (My Number)

VALID_MYNUMBER = "621498320257"  # python-stdnum doctest


def error_texts(error: BaseException) -> str:
    """Everything an error exposes to a logger, including chained errors."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        parts += [str(current), repr(current), *map(str, current.args)]
        parts += [str(getattr(current, name, "")) for name in ("value", "reason", "kind")]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def test_published_mynumber_is_valid() -> None:
    number = MyNumber.parse(VALID_MYNUMBER)
    assert number.last4() == "0257"
    assert number == MyNumber.parse("６２１４９８３２０２５７")


def test_published_invalid_mynumber_is_refused_and_masked() -> None:
    with pytest.raises(InvalidIdentifier, match="検査用数字") as caught:
        MyNumber.parse("621498320258")
    assert caught.value.value == "********0258"
    assert "62149832" not in error_texts(caught.value)


def test_mynumber_check_digits_of_published_and_hand_computed_bodies() -> None:
    assert mynumber_check("62149832025") == 7
    # By hand: 3·6 + 0·5 + 6·4 + 2·3 + 0·2 + 2·7 + 7·6 + 8·5 + 6·4 + 8·3 + 3·2 = 198 ≡ 0 (mod 11).
    assert mynumber_check("30620278683") == 0
    # All zeros: remainder 0 → check 0; the 省令's "余り ≤ 1 → 0" clause.
    assert mynumber_check("00000000000") == 0
    # 1 in the lowest place (weight 2): S = 2, 11 − 2 = 9.
    assert mynumber_check("00000000001") == 9


@pytest.mark.parametrize(
    "raw",
    [
        "62149832025",  # 11 digits
        "6214983202570",  # 13 digits
        "6214-9832-0257",
        "621498320257x",
        "621498320258",
        "６２１４９８３２０２５８",
        "",
    ],
)
def test_mynumber_errors_never_carry_the_number(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        MyNumber.parse(raw)
    texts = error_texts(caught.value)
    assert "62149832" not in texts
    assert "６２１４９８３２" not in texts
    assert caught.value.kind == "My Number"


def test_mynumber_never_prints_itself() -> None:
    number = MyNumber.parse(VALID_MYNUMBER)
    for text in (repr(number), str(number), f"{number}", repr([number]), repr({"n": number})):
        assert "62149832" not in text
        assert "0257" in text


def test_mynumber_keyed_hash_is_hmac_sha256_of_the_digits() -> None:
    # The stored form: a change of algorithm would orphan every stored hash.
    key = b"k" * 32
    number = MyNumber.parse("６２１４９８３２０２５７")
    expected = hmac.new(key, VALID_MYNUMBER.encode(), hashlib.sha256).hexdigest()
    assert number.keyed_hash(key) == expected
    assert number.keyed_hash(b"other key") != expected


def test_mynumber_equality_and_hash() -> None:
    a = MyNumber.parse(VALID_MYNUMBER)
    b = MyNumber.parse(" " + VALID_MYNUMBER + " ")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != VALID_MYNUMBER
    assert a != MyNumber.parse("306202786830")


@given(mynumber_bodies)
def test_mynumber_code_agrees_with_python_stdnum_formulation(body: str) -> None:
    assert mynumber_check(body) == stdnum_check(body)


@given(digit_strings(12))
def test_mynumber_valid_exactly_when_stdnum_check_matches(raw: str) -> None:
    expected_valid = stdnum_check(raw[:11]) == int(raw[11])
    try:
        MyNumber.parse(raw)
    except InvalidIdentifier as error:
        assert not expected_valid
        assert raw[:8] not in error_texts(error)
    else:
        assert expected_valid


@given(valid_mynumbers)
def test_mynumber_every_other_check_digit_fails(value: str) -> None:
    MyNumber.parse(value)
    for wrong in "0123456789".replace(value[-1], ""):
        with pytest.raises(InvalidIdentifier):
            MyNumber.parse(value[:-1] + wrong)


def test_mod_11_rule_misses_changes_between_remainders_0_and_1() -> None:
    # The brief assumed every single-digit change is caught. It is not: remainders 0 and 1
    # both give check digit 0. Body 30620278683 has remainder 0; raising its lowest digit by 6
    # adds 6·2 = 12 ≡ 1, so both numbers below are valid though they differ in one digit.
    assert stdnum_remainder("30620278683") == 0
    assert stdnum_remainder("30620278689") == 1
    assert MyNumber.parse("306202786830") != MyNumber.parse("306202786890")


@given(substitutions(valid_mynumbers))
def test_mynumber_single_substitution_missed_only_between_remainders_0_and_1(
    pair: tuple[str, str],
) -> None:
    # A change of digit d by δ at weight w shifts S by w·δ; 11 is prime and 1 ≤ w, |δ| < 11,
    # so the remainder always changes. Only the collapse of remainders 0 and 1 onto check 0
    # can hide it, and a change to the check digit itself is always caught.
    original, changed = pair
    undetectable = {stdnum_remainder(original[:11]), stdnum_remainder(changed[:11])} == {0, 1}
    if undetectable:
        assert MyNumber.parse(changed) != MyNumber.parse(original)
    else:
        with pytest.raises(InvalidIdentifier):
            MyNumber.parse(changed)


@given(valid_mynumbers)
def test_mynumber_full_width_parses_to_the_same_value(value: str) -> None:
    assert MyNumber.parse(fullwidth(value)) == MyNumber.parse(value)


@given(valid_mynumbers)
def test_mynumber_repr_shows_only_the_last_four(value: str) -> None:
    number = MyNumber.parse(value)
    assert repr(number) == f"MyNumber(********{value[-4:]})"
    assert number.last4() == value[-4:]


# ---------------------------------------------------------------------------------------------
# 記号・番号・枝番


@pytest.mark.parametrize(("raw", "expected"), [("01", "01"), ("００", "00"), ("０１", "01")])
def test_branch_accepted(raw: str, expected: str) -> None:
    assert parse_branch(raw) == expected


@pytest.mark.parametrize("raw", ["1", "001", "ab", "", "1a", "１", "٠١", "+1"])
def test_branch_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentifier, match="exactly two digits"):
        parse_branch(raw)


def test_symbol_may_be_empty_but_number_may_not() -> None:
    # 後期高齢者医療 cards carry a 番号 only.
    assert parse_symbol("") == ""
    assert parse_symbol("　") == ""
    with pytest.raises(InvalidIdentifier, match="must not be empty"):
        parse_number("")
    with pytest.raises(InvalidIdentifier, match="must not be empty"):
        parse_number("　 ")


@pytest.mark.parametrize("parse", [parse_symbol, parse_number])
def test_symbol_and_number_length_limit(parse: Callable[[str], str]) -> None:
    assert parse("A" * 20) == "A" * 20
    assert parse("Ａ" * 20) == "A" * 20  # the limit counts normalised characters
    with pytest.raises(InvalidIdentifier, match="longer than 20"):
        parse("A" * 21)


@pytest.mark.parametrize("parse", [parse_symbol, parse_number])
def test_symbol_and_number_refuse_control_characters(parse: Callable[[str], str]) -> None:
    with pytest.raises(InvalidIdentifier, match="control"):
        parse("12\x0034")


def test_symbol_full_width_and_inner_spaces_normalised() -> None:
    assert parse_symbol("ＡＢ　１２") == "AB12"
    assert parse_number("　００１２３ ") == "00123"  # leading zeros kept: it is a string


def test_insured_id_parse_normalises_every_field() -> None:
    insured = InsuredId.parse("０１１３００１２", "１２３", "４５６７", "０１")
    assert insured == InsuredId("01130012", "123", "4567", "01")
    assert str(insured) == "01130012 記号:123 番号:4567 枝番:01"


def test_insured_id_without_symbol() -> None:
    insured = InsuredId.parse("39130018", "", "12345678", "00")
    assert insured.symbol == ""
    assert "記号:-" in str(insured)


@pytest.mark.parametrize(
    ("insurer", "symbol", "number", "branch", "kind"),
    [
        ("01130013", "1", "2", "01", "insurer number"),
        ("01130012", "1", "", "01", "番号"),
        ("01130012", "1", "2", "1", "枝番"),
        ("01130012", "X" * 21, "2", "01", "記号"),
    ],
)
def test_insured_id_refuses_any_bad_field(
    insurer: str, symbol: str, number: str, branch: str, kind: str
) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        InsuredId.parse(insurer, symbol, number, branch)
    assert caught.value.kind == kind


symbols = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-", max_size=20)


@given(symbols)
def test_symbol_full_width_parses_to_the_same_value(symbol: str) -> None:
    assert parse_symbol(fullwidth(symbol)) == parse_symbol(symbol) == symbol


@given(symbols.filter(bool))
def test_number_full_width_parses_to_the_same_value(number: str) -> None:
    assert parse_number(fullwidth(number)) == parse_number(number) == number


@given(digit_strings(2))
def test_branch_full_width_parses_to_the_same_value(branch: str) -> None:
    assert parse_branch(fullwidth(branch)) == branch


# ---------------------------------------------------------------------------------------------
# 和暦


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5010501", dt.date(2019, 5, 1)),  # 令和元年5月1日
        ("4310430", dt.date(2019, 4, 30)),  # 平成最後の日
        ("3640107", dt.date(1989, 1, 7)),  # 昭和最後の日
        ("4010108", dt.date(1989, 1, 8)),  # 平成元年1月8日
        ("3011225", dt.date(1926, 12, 25)),
        ("2151224", dt.date(1926, 12, 24)),
        ("2010730", dt.date(1912, 7, 30)),
        ("1450729", dt.date(1912, 7, 29)),
        ("3350402", dt.date(1960, 4, 2)),
        ("4120229", dt.date(2000, 2, 29)),
        ("5060401", dt.date(2024, 4, 1)),
    ],
)
def test_parse_gyymmdd(raw: str, expected: dt.date) -> None:
    assert parse_gyymmdd(raw) == expected
    assert to_gyymmdd(expected) == raw


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("4310501", "outside 平成"),  # 平成 ended on 30 April 2019
        ("3640108", "outside 昭和"),
        ("4010107", "outside 平成"),  # 平成 began on 8 January 1989
        ("5010430", "outside 令和"),
        ("1450730", "outside 明治"),
        ("2151225", "outside 大正"),
        ("9010101", "年号区分 9"),
        ("0010101", "年号区分 0"),
        ("6010101", "年号区分 6"),
        ("5000501", "年 00"),
        ("5020230", "no such day"),
        ("5030229", "no such day"),  # 令和3年 = 2021, not a leap year
        ("5011301", "no such day"),
        ("5010500", "no such day"),
        ("501050", "7 digits"),
        ("50105011", "7 digits"),
        ("R010501", "7 digits"),
        ("", "7 digits"),
    ],
)
def test_parse_gyymmdd_refusals(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        parse_gyymmdd(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("50604", (2024, 4)),
        ("50105", (2019, 5)),
        ("43104", (2019, 4)),
        ("40101", (1989, 1)),
        # 昭和64年1月 (1–7 January) overlaps 昭和, so it is the same month as 平成元年1月.
        ("36401", (1989, 1)),
        ("30112", (1926, 12)),
        ("21512", (1926, 12)),
    ],
)
def test_parse_gyymm(raw: str, expected: tuple[int, int]) -> None:
    assert parse_gyymm(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("43105", "outside 平成"),
        ("50104", "outside 令和"),
        ("36402", "outside 昭和"),
        ("40012", "年 00"),
        ("50600", "month 00"),
        ("50613", "month 13"),
        ("90604", "年号区分 9"),
        ("00604", "年号区分 0"),
        ("5060", "5 digits"),
        ("506041", "5 digits"),
    ],
)
def test_parse_gyymm_refusals(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        parse_gyymm(raw)


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2019, 5, "50105"),
        (2019, 4, "43104"),
        (1989, 1, "40101"),  # the era in force at the end of the month
        (1926, 12, "30112"),
        (1912, 7, "20107"),
        (2024, 4, "50604"),
    ],
)
def test_to_gyymm(year: int, month: int, expected: str) -> None:
    assert to_gyymm(year, month) == expected


@pytest.mark.parametrize(
    ("day", "label"),
    [
        (dt.date(2019, 5, 1), "令和元年5月1日"),
        (dt.date(2019, 4, 30), "平成31年4月30日"),
        (dt.date(1989, 1, 7), "昭和64年1月7日"),
        (dt.date(1989, 1, 8), "平成元年1月8日"),
        (dt.date(2024, 12, 31), "令和6年12月31日"),
    ],
)
def test_wareki_label(day: dt.date, label: str) -> None:
    assert wareki_label(day) == label


def test_era_table_is_contiguous() -> None:
    assert [era.code for era in ERAS] == [1, 2, 3, 4, 5]
    for earlier, later in zip(ERAS, ERAS[1:], strict=False):
        assert later.first_day - earlier.last_day == dt.timedelta(days=1)


def test_era_of_before_meiji_raises() -> None:
    with pytest.raises(ValueError):
        era_of(dt.date(1867, 12, 31))


gregorian_days = st.dates(min_value=dt.date(1873, 1, 1), max_value=dt.date(2099, 12, 31))


@given(gregorian_days)
def test_gyymmdd_round_trip(day: dt.date) -> None:
    text = to_gyymmdd(day)
    assert len(text) == 7
    assert parse_gyymmdd(text) == day
    assert wareki_label(day).startswith(era_of(day).name)


@given(
    st.builds(
        lambda g, y, m, d: f"{g}{y:02d}{m:02d}{d:02d}",
        st.integers(0, 9),
        st.integers(0, 99),
        st.integers(0, 13),
        st.integers(0, 32),
    )
)
def test_every_accepted_gyymmdd_is_the_canonical_form_of_its_day(text: str) -> None:
    # Within an era a day has one GYYMMDD; accepting anything else would be ambiguous.
    try:
        day = parse_gyymmdd(text)
    except InvalidIdentifier:
        return
    assert to_gyymmdd(day) == text


@given(st.integers(1873, 2099), st.integers(1, 12))
def test_gyymm_round_trip(year: int, month: int) -> None:
    text = to_gyymm(year, month)
    assert len(text) == 5
    assert parse_gyymm(text) == (year, month)


@given(
    st.builds(
        lambda g, y, m: f"{g}{y:02d}{m:02d}",
        st.integers(1, 5),
        st.integers(1, 99),
        st.integers(1, 12),
    )
)
def test_every_accepted_gyymm_names_the_same_month_as_its_canonical_form(text: str) -> None:
    try:
        year_month = parse_gyymm(text)
    except InvalidIdentifier:
        return
    assert parse_gyymm(to_gyymm(*year_month)) == year_month


# ---------------------------------------------------------------------------------------------
# 年度


@pytest.mark.parametrize(
    ("year", "label"),
    [
        (2019, "令和元年度"),  # began under 平成, named after 令和
        (2020, "令和2年度"),
        (2018, "平成30年度"),
        (1989, "平成元年度"),
        (1988, "昭和63年度"),
        (2024, "令和6年度"),
    ],
)
def test_fiscal_year_label(year: int, label: str) -> None:
    assert FiscalYear(year).label == label


def test_fiscal_year_boundaries() -> None:
    assert FiscalYear.of(dt.date(2021, 3, 31)) == FiscalYear(2020)
    assert FiscalYear.of(dt.date(2021, 4, 1)) == FiscalYear(2021)
    fy = FiscalYear(2020)
    assert fy.first_day == dt.date(2020, 4, 1)
    assert fy.last_day == dt.date(2021, 3, 31)
    assert dt.date(2021, 3, 31) in fy
    assert dt.date(2021, 4, 1) not in fy
    assert dt.date(2020, 3, 31) not in fy
    assert "2020-05-01" not in fy
    assert str(fy) == "FY2020"
    assert FiscalYear(2019) < FiscalYear(2020)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_fiscal_year_of_a_day_contains_it_and_no_neighbour_does(day: dt.date) -> None:
    fy = FiscalYear.of(day)
    assert day in fy
    assert day not in FiscalYear(fy.year - 1)
    assert day not in FiscalYear(fy.year + 1)


# ---------------------------------------------------------------------------------------------
# 年齢


def test_age_at_fiscal_year_end_april_first_births_count_with_the_year_before() -> None:
    # 1 April births complete their year at the end of 31 March (年齢計算ニ関スル法律).
    assert age_at_fiscal_year_end(dt.date(1960, 4, 1), 2024) == 65
    assert age_at_fiscal_year_end(dt.date(1960, 4, 2), 2024) == 64
    assert age_at_fiscal_year_end(dt.date(1960, 4, 1), FiscalYear(2024)) == 65


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (dt.date(1960, 4, 2), dt.date(2025, 4, 1), 65),  # end of the eve of the birthday
        (dt.date(1960, 4, 2), dt.date(2025, 3, 31), 64),
        (dt.date(2000, 2, 29), dt.date(2001, 2, 27), 0),
        (dt.date(2000, 2, 29), dt.date(2001, 2, 28), 1),  # no 29 Feb: the month's last day
        (dt.date(2000, 2, 29), dt.date(2004, 2, 27), 3),
        (dt.date(2000, 2, 29), dt.date(2004, 2, 28), 4),
        (dt.date(2000, 3, 1), dt.date(2001, 2, 28), 1),
        (dt.date(2000, 3, 1), dt.date(2004, 2, 28), 3),
        (dt.date(2000, 1, 1), dt.date(2000, 12, 31), 1),
        (dt.date(2000, 1, 1), dt.date(2000, 12, 30), 0),
        (dt.date(2000, 5, 5), dt.date(2000, 5, 5), 0),
    ],
)
def test_age_on(birth: dt.date, day: dt.date, age: int) -> None:
    assert age_on(birth, day) == age


def test_age_on_before_birth_raises() -> None:
    with pytest.raises(ValueError, match="before the birth date"):
        age_on(dt.date(2000, 5, 5), dt.date(2000, 5, 4))


def test_age_at_fiscal_year_end_for_a_leap_day_birth() -> None:
    # FY2000 ends 2001-03-31, after the first anniversary (ended 28 Feb 2001).
    assert age_at_fiscal_year_end(dt.date(2000, 2, 29), 2000) == 1
    assert age_at_fiscal_year_end(dt.date(2000, 2, 29), 1999) == 0


births = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2030, 12, 31))
leap_births = st.integers(0, 32).map(lambda k: dt.date(1904 + 4 * k, 2, 29))


@given(births | leap_births, st.integers(0, 120 * 366))
def test_age_on_agrees_with_the_civil_code_period_end(birth: dt.date, offset: int) -> None:
    day = birth + dt.timedelta(days=offset)
    assert age_on(birth, day) == reference_age(birth, day)


@given(births | leap_births, st.integers(0, 120 * 366))
def test_age_on_is_monotone_by_at_most_one_a_day(birth: dt.date, offset: int) -> None:
    day = birth + dt.timedelta(days=offset)
    step = age_on(birth, day + dt.timedelta(days=1)) - age_on(birth, day)
    assert step in (0, 1)


@given(births | leap_births, st.integers(1, 110))
def test_age_rises_by_exactly_one_at_the_end_of_each_legal_birthday_eve(
    birth: dt.date, years: int
) -> None:
    completed = year_completed_on(birth, years)
    assert age_on(birth, completed) == years
    assert age_on(birth, completed - dt.timedelta(days=1)) == years - 1


@given(births, st.integers(0, 110))
def test_age_at_fiscal_year_end_is_the_age_on_31_march(birth: dt.date, years: int) -> None:
    fy = FiscalYear.of(birth).year + years
    assert age_at_fiscal_year_end(birth, fy) == reference_age(birth, dt.date(fy + 1, 3, 31))


@pytest.mark.parametrize(
    "parse",
    [
        InsurerNumber.parse,
        InstitutionCode.parse,
        parse_branch,
        lambda raw: parse_symbol(raw + "x" * 9),  # too long
    ],
)
def test_no_identifier_error_repeats_a_my_number(parse: Callable[[str], object]) -> None:
    """Every face (OQS XML error files and the agent's log, FHIR OperationOutcome, the CLI)
    says why an identifier is wrong with InvalidIdentifier's message: a My Number sent in its
    place shows only its last four digits."""
    number = "123456789018"  # synthetic, valid 検査用数字
    with pytest.raises(InvalidIdentifier) as error:
        parse(number)
    assert number not in str(error.value) and "********9018" in str(error.value)
    assert number not in error.value.value


@pytest.mark.parametrize(
    ("text", "day"), [("2021-06-01", dt.date(2021, 6, 1)), ("20210601", dt.date(2021, 6, 1))]
)
def test_an_iso_date_is_read(text: str, day: dt.date) -> None:
    from kokuho.ids import iso_date

    assert iso_date(text) == day


@pytest.mark.parametrize(
    "text",
    ["2021-W01-1", "2021W011", "2021-02-30", "２０２１-０６-０１", " 2021-06-01", "2021-6-1"],
)
def test_other_date_forms_are_refused(text: str) -> None:
    """date.fromisoformat reads ISO week dates since Python 3.11: '2021-W01-1' is 2021-01-04."""
    from kokuho.ids import iso_date

    with pytest.raises(ValueError):
        iso_date(text)


# ---------------------------------------------------------------------------------------------
# 世帯番号 (household id): one definition for the register, premiums and the CLI


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", "1"),  # the shortest
        ("H" * 20, "H" * 20),  # the longest
        ("0000000001", "0000000001"),  # what the synthetic register writes
        (fullwidth("W1"), "W1"),  # full-width, read as the register reads it (NFKC)
        (fullwidth("A" * 20), "A" * 20),  # the limit counts normalised characters
        (" W1\u3000", "W1"),  # blanks around it dropped
        ("w1", "w1"),  # case is kept: w1 and W1 are two households, as the register stores them
    ],
)
def test_household_id_accepted(raw: str, expected: str) -> None:
    assert parse_household_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["H" * 21, fullwidth("H" * 21), "H-1", "H_1", "-1", "H 1", "H.1", "H\x001", "\x00", "世帯1",
     "ｱ1", "٣", "H1\u202e"],
)  # fmt: skip
def test_household_id_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentifier, match="must be 1–20 letters or digits") as error:
        parse_household_id(raw)
    assert error.value.kind == "世帯番号"


@pytest.mark.parametrize("raw", ["", " ", "\u3000"])
def test_household_id_must_not_be_empty(raw: str) -> None:
    with pytest.raises(InvalidIdentifier, match="must not be empty"):
        parse_household_id(raw)
