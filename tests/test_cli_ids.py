"""``kokuho ids check`` and ``kokuho ids wareki`` driven through click's test runner."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from kokuho.cli import main

MY_NUMBER = "621498320257"  # python-stdnum's valid example
MY_NUMBER_HEAD = MY_NUMBER[:8]  # never to be printed in any form


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["ids", *args], input=stdin)


def run_json(*args: str, exit_code: int) -> dict[str, Any]:
    result = run(*args, "--json")
    assert result.exit_code == exit_code, result.output
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


# ---------------------------------------------------------------------------------------------
# check insurer


def test_insurer_valid_text() -> None:
    result = run("check", "insurer", "01130012")
    assert result.exit_code == 0
    assert result.stdout == (
        "valid insurer number 01130012 "
        "(法別 01 全国健康保険協会管掌健康保険（協会けんぽ）, 都道府県 13)\n"
    )
    assert result.stderr == ""


def test_insurer_full_width_is_normalised() -> None:
    result = run("check", "insurer", "３３１２００１５")
    assert result.exit_code == 0
    assert result.stdout == "valid insurer number 33120015 (法別 33 警察共済組合, 都道府県 12)\n"


def test_kokuho_insurer_text() -> None:
    result = run("check", "insurer", "00370015")
    assert result.exit_code == 0
    assert "valid insurer number 370015 (国民健康保険, 都道府県 37)" in result.stdout


def test_insurer_valid_json() -> None:
    assert run_json("check", "insurer", "01130012", exit_code=0) == {
        "kind": "insurer",
        "valid": True,
        "value": "01130012",
        "reason": None,
        "law_code": "01",
        "scheme": "全国健康保険協会管掌健康保険（協会けんぽ）",
        "prefecture": "13",
        "kokuho": False,
    }


def test_kokuho_insurer_json() -> None:
    document = run_json("check", "insurer", "370015", exit_code=0)
    assert document["value"] == "370015"
    assert document["law_code"] is None
    assert document["kokuho"] is True
    assert document["prefecture"] == "37"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("01130013", "検証番号 is 3, the 2-1 digit-sum rule gives 2"),
        ("54016027", "法別番号 54 is not a health-insurance scheme"),
        ("0113001", "must have 6 or 8 digits, has 7"),
        ("01480018", "都道府県番号 48"),
        ("abc", "digits only"),
    ],
)
def test_insurer_invalid_text(value: str, reason: str) -> None:
    result = run("check", "insurer", value)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("invalid: ")
    assert reason in result.stderr


def test_insurer_invalid_json() -> None:
    document = run_json("check", "insurer", "54016027", exit_code=1)
    assert document["kind"] == "insurer"
    assert document["valid"] is False
    assert document["value"] is None
    assert "法別番号 54" in document["reason"]


# ---------------------------------------------------------------------------------------------
# check institution


def test_institution_valid_text() -> None:
    result = run("check", "institution", "0110113719")
    assert result.exit_code == 0
    assert result.stdout == (
        "valid institution code 0110113719 (都道府県 01, 点数表 1 医科, 医療機関コード 0113719)\n"
    )


def test_institution_valid_json() -> None:
    assert run_json("check", "institution", "０１１０１１３７１９", exit_code=0) == {
        "kind": "institution",
        "valid": True,
        "value": "0110113719",
        "reason": None,
        "prefecture": "01",
        "score_table": "1",
        "institution_kind": "医科",
        "short": "0113719",
    }


def test_seven_digit_institution_with_prefecture_and_table() -> None:
    result = run("check", "institution", "0113719", "--prefecture", "01", "--table", "1")
    assert result.exit_code == 0
    assert "valid institution code 0110113719" in result.stdout


def test_seven_digit_institution_alone_is_refused_with_a_hint() -> None:
    result = run("check", "institution", "0113719")
    assert result.exit_code == 1
    assert "invalid: a 7-digit code can be checked only" in result.stderr
    assert "--prefecture" in result.stderr


@pytest.mark.parametrize(
    ("prefecture", "table", "reason"),
    [
        ("13", "1", "検証番号 is 9"),  # same 7 digits, another prefecture
        ("01", "2", "点数表番号 2"),
        ("48", "1", "都道府県番号 48"),
    ],
)
def test_seven_digit_institution_invalid(prefecture: str, table: str, reason: str) -> None:
    result = run("check", "institution", "0113719", "--prefecture", prefecture, "--table", table)
    assert result.exit_code == 1
    assert reason in result.stderr


def test_institution_invalid_json() -> None:
    document = run_json("check", "institution", "0110113718", exit_code=1)
    assert document == {
        "kind": "institution",
        "valid": False,
        "value": None,
        "reason": "検証番号 is 8, the 2-1 digit-sum rule gives 9",
    }


def test_prefecture_without_table_is_a_usage_error() -> None:
    result = run("check", "institution", "0113719", "--prefecture", "01")
    assert result.exit_code == 2
    assert "go together" in result.stderr


def test_prefecture_for_an_insurer_is_a_usage_error() -> None:
    result = run("check", "insurer", "01130012", "--prefecture", "13", "--table", "1")
    assert result.exit_code == 2
    assert "institution codes only" in result.stderr


# ---------------------------------------------------------------------------------------------
# check mynumber: never the number in clear, on any stream


def assert_no_number(result: Result) -> None:
    for stream in (result.stdout, result.stderr, result.output):
        assert MY_NUMBER_HEAD not in stream
        assert "６２１４９８３２" not in stream


def test_mynumber_valid_text_is_masked() -> None:
    result = run("check", "mynumber", MY_NUMBER)
    assert result.exit_code == 0
    assert result.stdout.startswith("valid My Number ********0257")
    assert_no_number(result)


def test_mynumber_valid_json_is_masked() -> None:
    result = run("check", "mynumber", MY_NUMBER, "--json")
    assert result.exit_code == 0
    assert_no_number(result)
    document = json.loads(result.stdout)
    assert document["kind"] == "mynumber"
    assert document["valid"] is True
    assert document["value"] == "********0257"
    assert document["last4"] == "0257"
    assert document["reason"] is None


def test_mynumber_from_standard_input() -> None:
    result = run("check", "mynumber", "-", stdin=MY_NUMBER + "\n")
    assert result.exit_code == 0
    assert "********0257" in result.stdout
    assert_no_number(result)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("621498320258", "検査用数字"),
        ("62149832025", "12 digits"),
        ("6214-9832-0257", "digits only"),
        ("６２１４９８３２０２５８", "検査用数字"),
    ],
)
def test_mynumber_invalid_never_echoes_the_number(value: str, reason: str) -> None:
    for extra in ((), ("--json",)):
        result = run("check", "mynumber", value, *extra)
        assert result.exit_code == 1
        assert reason in result.output
        assert_no_number(result)


def test_mynumber_invalid_json() -> None:
    document = run_json("check", "mynumber", "621498320258", exit_code=1)
    assert document["valid"] is False
    assert document["value"] is None
    assert "検査用数字" in document["reason"]


def test_mynumber_typed_as_the_kind_is_not_echoed_by_the_usage_error() -> None:
    result = run("check", MY_NUMBER, "mynumber")
    assert result.exit_code == 2
    assert "KIND must be" in result.stderr
    assert_no_number(result)


# ---------------------------------------------------------------------------------------------
# wareki


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("5010501", "5010501 = 2019-05-01 (令和元年5月1日)"),
        ("4310430", "4310430 = 2019-04-30 (平成31年4月30日)"),
        ("3640107", "3640107 = 1989-01-07 (昭和64年1月7日)"),
        ("4010108", "4010108 = 1989-01-08 (平成元年1月8日)"),
        ("50604", "50604 = 2024-04 (令和6年4月)"),
        ("36401", "36401 = 1989-01 (昭和64年1月)"),
        ("2019-05-01", "2019-05-01 = 5010501 (令和元年5月1日)"),
        ("2019/4/30", "2019-04-30 = 4310430 (平成31年4月30日)"),
        ("1989-01", "1989-01 = 40101 (平成元年1月)"),
        ("2019-05", "2019-05 = 50105 (令和元年5月)"),
        ("５０１０５０１", "5010501 = 2019-05-01 (令和元年5月1日)"),
    ],
)
def test_wareki_conversions(value: str, line: str) -> None:
    result = run("wareki", value)
    assert result.exit_code == 0, result.output
    assert result.stdout == line + "\n"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("4310501", "outside 平成"),
        ("3640108", "outside 昭和"),
        ("9010101", "年号区分 9"),
        ("5000501", "年 00"),
        ("5020230", "no such day"),
        ("2021-02-29", "no such day"),
        ("43105", "outside 平成"),
        ("2019-13", "month 13"),
        ("1872-12-31", "before 1873-01-01"),
        ("1050601", "before 1873-01-01"),  # 明治5年: a lunar date
        ("2118-01-01", "after 令和99年"),
        ("9999-12", "after 令和99年"),
        ("R1.5.1", "expected GYYMMDD"),
        ("501050", "expected GYYMMDD"),
    ],
)
def test_wareki_invalid(value: str, reason: str) -> None:
    result = run("wareki", value)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("invalid: ")
    assert reason in result.stderr


def test_wareki_json_day() -> None:
    assert run_json("wareki", "5010501", exit_code=0) == {
        "input": "5010501",
        "valid": True,
        "reason": None,
        "form": "GYYMMDD",
        "iso": "2019-05-01",
        "gyymmdd": "5010501",
        "label": "令和元年5月1日",
    }


def test_wareki_json_iso_month() -> None:
    assert run_json("wareki", "2024-04", exit_code=0) == {
        "input": "2024-04",
        "valid": True,
        "reason": None,
        "form": "ISO month",
        "iso": "2024-04",
        "gyymm": "50604",
        "label": "令和6年4月",
    }


def test_wareki_json_invalid() -> None:
    document = run_json("wareki", "4310501", exit_code=1)
    assert document["valid"] is False
    assert "outside 平成" in document["reason"]


def test_help_names_the_japanese_terms() -> None:
    result = CliRunner().invoke(main, ["ids", "--help"])
    assert result.exit_code == 0
    for term in ("保険者番号", "医療機関コード", "個人番号", "和暦", "check", "wareki"):
        assert term in result.stdout
