"""Premium rule files: the shipped ones load, bad ones are refused naming file, line and field,
local copies replace shipped ones, and ``kokuho premiums rules`` shows and checks them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.premiums import (
    PremiumRuleError,
    load_premium_rules,
    load_rules_file,
    shipped_municipalities,
    shipped_national_years,
)
from tests.premiumcases import DATA

KAGAWA = Path(__file__).resolve().parents[1] / "src" / "kokuho" / "data" / "kagawa.yaml"
CITY = DATA / "example" / "city_fy2020.yaml"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A $KOKUHO_HOME of the test's own, for local copies of the rule files."""
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "data").mkdir(parents=True)
    return tmp_path / "home"


def kagawa_codes() -> list[str]:
    listed = yaml.safe_load(KAGAWA.read_text("utf-8"))["municipalities"]
    return sorted(m["code"] for m in listed)


def test_every_kagawa_municipality_has_rules_for_fy2020_to_fy2023() -> None:
    assert shipped_national_years() == [2020, 2021, 2022, 2023]
    for year in range(2020, 2024):
        assert shipped_municipalities(year) == kagawa_codes()
        for code in kagawa_codes():
            rules = load_premium_rules(year, code)
            assert (rules.fiscal_year, rules.municipal.municipality) == (year, code)
            # Synthetic: nothing in a municipal file may pass for the 条例.
            assert not rules.municipal.confirmed


def test_the_statutory_values_by_year() -> None:
    deductions = {
        y: load_premium_rules(y, "372013").national.basic_deduction.value for y in (2020, 2021)
    }
    assert deductions == {2020: 330_000, 2021: 430_000}
    fy2023 = load_premium_rules(2023, "372013")
    assert [fy2023.cap(p) for p in ("medical", "support", "care")] == [650_000, 220_000, 170_000]
    assert load_premium_rules(2021, "372013").national.special.preschool is None
    assert load_premium_rules(2022, "372013").national.special.preschool is not None


def _copy(tmp_path: Path, old: str, new: str, name: str = "city.yaml") -> Path:
    text = CITY.read_text("utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new), "utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(PremiumRuleError) as error:
        load_rules_file(path)
    return [str(p) for p in error.value.problems]


def test_a_missing_part_names_file_line_and_field(tmp_path: Path) -> None:
    path = _copy(tmp_path, "  care: {income_rate", "  nursing: {income_rate")
    # `parts:` is on line 13 of the file; the missing part is reported there, the stray one on 18.
    assert _problems(path) == [
        f"{path}:13: parts.care: Field required",
        f"{path}:18: parts.nursing: Extra inputs are not permitted",
    ]


def test_a_method_without_its_levies_is_refused(tmp_path: Path) -> None:
    path = _copy(tmp_path, "method: 3", "method: 4")
    found = _problems(path)
    assert len(found) == 3 and all("4方式 needs a 資産割率" in p for p in found)
    two = _copy(tmp_path, "method: 3", "method: 2", "two.yaml")
    assert f"{two}:14: parts.medical.per_household: 2方式 has no 平等割" in _problems(two)


def test_a_rate_out_of_range_and_a_yaml_error(tmp_path: Path) -> None:
    path = _copy(tmp_path, "income_rate: 0.067", "income_rate: 6.7")
    assert _problems(path) == [
        f"{path}:14: parts.medical.income_rate: Input should be less than or equal to 1"
    ]
    broken = _copy(tmp_path, "method: 3", "method: [3", "broken.yaml")
    assert _problems(broken)[0].startswith(f"{broken}:13: (yaml)")


def test_a_rate_in_another_scripts_digits_is_refused(tmp_path: Path) -> None:
    """Decimal reads "٠.٠٦٧" (Arabic-Indic digits) as 0.067: a quoted rate must be ASCII."""
    path = _copy(tmp_path, "income_rate: 0.067", 'income_rate: "٠.٠٦٧"')
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:14: parts.medical.income_rate: ")
    assert "not a number written in ASCII digits" in problem
    # The same rate written in ASCII, quoted or not, is read.
    quoted = _copy(tmp_path, "income_rate: 0.067", 'income_rate: "0.067"', "ok.yaml")
    assert load_rules_file(quoted) == load_rules_file(CITY)


def test_instalment_months_must_run_in_order(tmp_path: Path) -> None:
    path = _copy(tmp_path, "months: [6, 7, 8,", "months: [7, 6, 8,")
    assert any("instalments.months: months in calendar order" in p for p in _problems(path))


def test_a_municipal_cap_above_the_statutory_one_is_refused(tmp_path: Path, home: Path) -> None:
    local = home / "data" / "premiums" / "municipal" / "fy2020"
    local.mkdir(parents=True)
    shipped = (DATA / "municipal" / "fy2020" / "372013.yaml").read_text("utf-8")
    (local / "372013.yaml").write_text(
        shipped.replace("    per_household:", "    cap: 640000\n    per_household:", 1), "utf-8"
    )
    with pytest.raises(
        PremiumRuleError, match=r"parts\.medical\.cap: 640,000 is above the 政令 cap"
    ):
        load_premium_rules(2020, "372013")


def test_a_file_of_another_municipality_is_refused(home: Path) -> None:
    local = home / "data" / "premiums" / "municipal" / "fy2020"
    local.mkdir(parents=True)
    shipped = (DATA / "municipal" / "fy2020" / "372021.yaml").read_text("utf-8")
    (local / "372013.yaml").write_text(shipped, "utf-8")
    with pytest.raises(PremiumRuleError, match="372021 in a file named 372013"):
        load_premium_rules(2020, "372013")


def test_a_local_copy_replaces_one_file_and_hides_no_other(home: Path) -> None:
    local = home / "data" / "premiums" / "municipal" / "fy2020"
    local.mkdir(parents=True)
    shipped = (DATA / "municipal" / "fy2020" / "372013.yaml").read_text("utf-8")
    rules = load_premium_rules(2020, "372013")
    old = rules.municipal.parts.medical.per_capita
    text = shipped.replace(f"per_capita: {old}", "per_capita: 12345", 1)
    (local / "372013.yaml").write_text(text, "utf-8")
    copied = load_premium_rules(2020, "372013")
    assert copied.municipal.parts.medical.per_capita == 12345
    assert copied.municipal_file == str(local / "372013.yaml")
    assert shipped_municipalities(2020) == kagawa_codes()


def test_no_rules_for_an_unknown_year_or_municipality() -> None:
    with pytest.raises(PremiumRuleError, match="premiums/national/fy2019.yaml"):
        load_premium_rules(2019, "372013")
    with pytest.raises(PremiumRuleError, match="premiums/municipal/fy2020/131016.yaml"):
        load_premium_rules(2020, "131016")
    with pytest.raises(PremiumRuleError, match="6-digit"):
        load_premium_rules(2020, "../x")


def test_the_cli_shows_every_file() -> None:
    result = CliRunner().invoke(main, ["premiums", "rules", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 4 * 17
    assert {r["fiscal_year"] for r in rows} == {2020, 2021, 2022, 2023}
    assert not any(r["confirmed"] for r in rows)


def test_the_cli_csv_for_one_municipality() -> None:
    args = ["premiums", "rules", "--fiscal-year", "2022", "--municipality", "372013", "--csv"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader(io.StringIO(result.output)))
    assert (row["fiscal_year"], row["municipality"], row["medical_cap"]) == (
        "2022",
        "372013",
        "650000",
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--fiscal-year", "2019"], "no premium rules for FY2019"),
        (["--municipality", "131016"], "no premium rules for municipality '131016'"),
        (["--json", "--csv"], "give --json or --csv"),
        (["--file", str(CITY), "--csv"], "--file checks one file"),
    ],
)
def test_the_cli_refuses_bad_options(args: list[str], reason: str) -> None:
    result = CliRunner().invoke(main, ["premiums", "rules", *args])
    assert result.exit_code == 1
    assert reason in result.output


def test_the_cli_checks_a_file_and_fails_on_problems(tmp_path: Path) -> None:
    good = CliRunner().invoke(main, ["premiums", "rules", "--file", str(CITY)])
    assert good.exit_code == 0 and "valid municipal rule file of FY2020" in good.output
    bad = _copy(tmp_path, "  care: {income_rate", "  nursing: {income_rate")
    result = CliRunner().invoke(main, ["premiums", "rules", "--file", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:13: parts.care: Field required" in result.output


def test_the_unconfirmed_report_lists_the_premium_rule_files() -> None:
    result = CliRunner().invoke(main, ["data", "unconfirmed", "--json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)["unconfirmed"]
    files = {e["file"] for e in entries}
    assert "premiums/municipal/fy2023/374067.yaml" in files
    keys = {e["key"] for e in entries if e["file"] == "premiums/national/fy2021.yaml"}
    assert "basic_deduction" in keys and "caps.medical" in keys
    # FY2020's caps were read in the cited page: not reported.
    assert not any(
        e["file"] == "premiums/national/fy2020.yaml" and e["key"].startswith("caps")
        for e in entries
    )
