"""The levy rule files and input files (every problem named file:line: field) and
``kokuho premiums levy`` end to end on the documented example input file."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kokuho.cli import main
from kokuho.premiums import (
    LEVY_COLUMNS,
    LevyFileError,
    levy_years,
    load_levy_inputs,
    load_levy_rules,
    parse_levy_inputs,
    parse_levy_rules,
)
from kokuho.store import shipped_folder

EXAMPLE = shipped_folder() / "premiums" / "levy" / "example" / "inputs.yaml"
RULES_2020 = (shipped_folder() / "premiums" / "levy" / "fy2020.yaml").read_text("utf-8")
INPUTS = EXAMPLE.read_text("utf-8")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["premiums", "levy", *args])


def _line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line containing ``fragment``."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return lines[occurrence - 1]


def _assert_problem(
    parse: Callable[[str, str], object],
    base: str,
    change: tuple[str, str],
    expected: tuple[str, str, str],
) -> None:
    """Parsing ``base`` with ``change`` (old → new) fails on the line holding
    ``expected[0]``, naming the field ``expected[1]`` with a reason containing ``expected[2]``."""
    old, new = change
    line_of, field, reason = expected
    assert old in base
    text = base.replace(old, new, 1)
    with pytest.raises(LevyFileError) as caught:
        parse(text, "file.yaml")
    error = caught.value
    assert (error.file, error.line, error.field) == ("file.yaml", _line_of(text, line_of), field)
    assert reason in error.reason


# -- rule files ------------------------------------------------------------------------------


def test_every_shipped_year_loads() -> None:
    assert levy_years() == [2020, 2021, 2022, 2023]
    for year in levy_years():
        rules = load_levy_rules(year)
        assert rules.fiscal_year == year
        assert set(rules.parts) == {"medical", "support", "care"}
        # 後期支援金分 and 介護分 reflect 所得 only (the guideline, the Kagawa page).
        assert rules.parts["support"].alpha.value == rules.parts["care"].alpha.value == 0


def test_a_year_without_a_rule_file_is_named() -> None:
    with pytest.raises(LevyFileError, match=r"fy2019.yaml: fiscal_year: no levy rule file"):
        load_levy_rules(2019)


@pytest.mark.parametrize(
    ("old", "new", "line_of", "field", "reason"),
    [
        (
            "  care:           # 介護納付金分",
            "  nursing:        # 介護納付金分",
            "  nursing:",
            "parts.nursing",
            "unknown key",
        ),
        (
            '    alpha: {value: 0, source: "guideline (支援金分',
            '    alpha: {value: 0.5, source: "guideline (支援金分',
            "value: 0.5",
            "parts.support.alpha",
            "α is 0 for support",
        ),
        (
            "      value: 1\n",
            "      value: 1.5\n",
            "value: 1.5",
            "parts.medical.alpha.value",
            "≤ 1",
        ),
        (
            "      value: 0.89\n",
            "      value: 0\n",
            "value: 0",
            "parts.medical.beta.value",
            "> 0",
        ),
        (
            "      value: 0.89\n",
            "      value: lots\n",
            "lots",
            "parts.medical.beta.value",
            "not a number",
        ),
        (
            "    - {min_insured: 10000, rate: 0.94}",
            "    - {min_insured: 0, rate: 0.94}",
            "min_insured: 0, rate: 0.94",
            "collection_rates.bands[1].min_insured",
            "bands go up",
        ),
        ("  mode: half_up", "  mode: bankers", "mode: bankers", "rounding.mode", "not one of"),
        (
            "confirmed: false\n\nparts:",
            "confirmed: maybe\n\nparts:",
            "confirmed: maybe",
            "confirmed",
            "true or false",
        ),
    ],
)
def test_a_bad_rule_file_names_line_and_field(
    old: str, new: str, line_of: str, field: str, reason: str
) -> None:
    _assert_problem(parse_levy_rules, RULES_2020, (old, new), (line_of, field, reason))


def test_a_rule_file_with_a_missing_part_is_refused() -> None:
    start = RULES_2020.index("  care:           # 介護納付金分")
    end = RULES_2020.index("# 標準的な収納率 by municipality size")
    text = RULES_2020[:start] + RULES_2020[end:]
    with pytest.raises(LevyFileError, match=r"fy2020.yaml:\d+: parts: part 'care' is missing"):
        parse_levy_rules(text, "fy2020.yaml")


def test_a_missing_source_is_refused() -> None:
    text = RULES_2020.replace(
        "      source: 3方式 均等割:平等割 = 70:30 (notes §2.2, UNCONFIRMED)\n", "", 1
    )
    with pytest.raises(LevyFileError) as caught:
        parse_levy_rules(text, "x.yaml")
    assert caught.value.field == "parts.medical.per_capita_share.source"
    assert caught.value.reason == "is required"


# -- input files -----------------------------------------------------------------------------


def test_the_example_inputs_load_exactly() -> None:
    inputs = load_levy_inputs(EXAMPLE)
    assert inputs.totals == {"medical": 10**10, "support": 3_300_000_000, "care": 1_100_000_000}
    takamatsu, _, shodoshima = inputs.municipalities
    assert takamatsu.medical_index == Decimal("1.03")  # read from its text, not a float
    assert takamatsu.parts["medical"].adjustment == -300_000_000
    assert shodoshima.collection_rate == Decimal("0.97")


@pytest.mark.parametrize(
    ("old", "new", "line_of", "field", "reason"),
    [
        ('code: "372021"', "code: 72021", "code: 72021", "municipalities[1].code", "6-digit"),
        # \d matched other scripts' digits: a code no municipality has.
        ('code: "372021"', 'code: "٣٧٢٠٢١"', "٣٧٢٠٢١", "municipalities[1].code", "6-digit"),
        (
            'code: "373249"',
            'code: "372021"  # again',
            "# again",
            "municipalities[2]",
            "listed twice",
        ),
        (
            "care: {members: 6_500, households: 4_500,",
            "care: {members: 6_500, households: 6_501,",
            "households: 6_501",
            "municipalities[1].parts.care.households",
            "6501 households for 6500 members",
        ),
        (
            "support: {members: 22_000,",
            "support: {members: -22_000,",
            "members: -22_000",
            "municipalities[1].parts.support.members",
            "≥ 0",
        ),
        (
            "medical_index: 0.98",
            "medical_index: 0",
            "medical_index: 0",
            "municipalities[1].medical_index",
            "> 0",
        ),
        (
            "collection_rate: 0.97",
            "collection_rate: 97",
            "collection_rate: 97",
            "municipalities[2].collection_rate",
            "≤ 1",
        ),
        ("  care: 1_100_000_000", "  care: 1.5", "care: 1.5", "totals.care", "not a whole number"),
        ("  care: 1_100_000_000", "  kaigo: 1", "kaigo: 1", "totals.kaigo", "unknown key"),
        (
            "income: 1_600_000_000}\n      care",
            "incomes: 1_600_000_000}\n      care",
            "incomes: 1_600_000_000",
            "municipalities[2].parts.support.incomes",
            "unknown key",
        ),
    ],
)
def test_a_bad_input_file_names_line_and_field(
    old: str, new: str, line_of: str, field: str, reason: str
) -> None:
    _assert_problem(parse_levy_inputs, INPUTS, (old, new), (line_of, field, reason))


def test_a_part_with_a_total_but_no_base_is_refused() -> None:
    text = INPUTS.replace("income: 21_000_000_000", "income: 0").replace(
        "income: 5_000_000_000", "income: 0"
    )
    text = text.replace(
        "care: {members: 1_000, households: 800, income: 500_000_000}",
        "care: {members: 1_000, households: 800, income: 0}",
    )
    with pytest.raises(LevyFileError, match="care: the income of all municipalities sum to 0"):
        parse_levy_inputs(text, "inputs.yaml")


def test_a_full_width_code_is_made_half_width() -> None:
    """As the amounts (ASCII or full-width digits) and every identifier of the files."""
    text = INPUTS.replace('code: "372021"', 'code: "３７２０２１"', 1)
    codes = [m.code for m in parse_levy_inputs(text, "inputs.yaml").municipalities]
    assert "372021" in codes and "３７２０２１" not in codes


def test_broken_yaml_names_its_line() -> None:
    text = INPUTS.replace("    name: 丸亀市\n", "    name: [丸亀市\n", 1)
    with pytest.raises(LevyFileError) as caught:
        parse_levy_inputs(text, "inputs.yaml")
    assert caught.value.field == "(yaml)"
    assert caught.value.line > 0


# -- the command -----------------------------------------------------------------------------


def test_levy_command_csv_sums_to_the_totals() -> None:
    result = run("--fiscal-year", "2020", "--inputs", str(EXAMPLE), "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 9
    for part, total in (("medical", 10**10), ("support", 3_300_000_000), ("care", 1_100_000_000)):
        assert sum(int(r["levy"]) for r in rows if r["part"] == part) == total
    takamatsu = rows[0]
    assert (takamatsu["code"], takamatsu["part"], takamatsu["actual_income_rate"]) == (
        "372013",
        "medical",
        "7.10",
    )
    # The difference is the actual rate minus the standard one, in the same row.
    assert Decimal(takamatsu["diff_income_rate"]) == Decimal("7.10") - Decimal(
        takamatsu["income_rate"]
    )
    assert int(takamatsu["diff_per_capita"]) == 28_000 - int(takamatsu["per_capita"])
    # 高松市 (80,000 members) gets the 50,000+ band; 小豆島町 its own rate.
    assert takamatsu["collection_rate"] == "0.92"
    assert rows[6]["collection_rate"] == "0.97"
    assert int(takamatsu["required"]) == int(takamatsu["levy"]) - 300_000_000


def test_levy_command_json() -> None:
    result = run("--fiscal-year", "2020", "--inputs", str(EXAMPLE), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [p["part"] for p in document["parts"]] == ["medical", "support", "care"]
    assert document["parts"][1]["gamma"] == "1.0000000000"  # α = 0 and shares sum to 1
    unconfirmed = document["unconfirmed"]
    assert {"parts.medical.beta", "collection_rates", "rounding"} <= set(unconfirmed)
    assert "parts.support.alpha" not in unconfirmed  # confirmed: 0 by the guideline


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--fiscal-year", "2021"), "inputs.yaml: fiscal_year: 2020, not 2021"),
        (("--fiscal-year", "2019"), "fy2019.yaml: fiscal_year: no levy rule file for FY2019"),
        (("--fiscal-year", "2020", "--csv", "--json"), "--csv and --json exclude each other"),
    ],
)
def test_levy_command_refuses_with_one_line(args: tuple[str, ...], message: str) -> None:
    result = run(*args, "--inputs", str(EXAMPLE))
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_levy_command_names_the_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "inputs.yaml"
    bad.write_text(INPUTS.replace("medical_index: 0.98", "medical_index: high"), "utf-8")
    result = run("--fiscal-year", "2020", "--inputs", str(bad))
    assert result.exit_code == 1
    line = _line_of(bad.read_text("utf-8"), "medical_index: high")
    assert result.stderr == (
        f"error: {bad}:{line}: municipalities[1].medical_index: 'high' is not a number\n"
    )


def test_levy_command_with_a_rule_file_of_another_year(tmp_path: Path) -> None:
    rules = tmp_path / "levy.yaml"
    rules.write_text(RULES_2020.replace("fiscal_year: 2020", "fiscal_year: 2021"), "utf-8")
    result = run("--fiscal-year", "2020", "--inputs", str(EXAMPLE), "--rules", str(rules))
    assert result.exit_code == 1
    assert f"{rules}: fiscal_year: 2021, not 2020" in result.stderr


def test_the_shipped_example_runs_and_inputs_or_example_is_required() -> None:
    shipped = run("--fiscal-year", "2020", "--example", "--csv")
    given = run("--fiscal-year", "2020", "--inputs", str(EXAMPLE), "--csv")
    assert shipped.exit_code == given.exit_code == 0
    assert shipped.stdout == given.stdout
    for args in ((), ("--example", "--inputs", str(EXAMPLE))):
        result = run("--fiscal-year", "2020", *args)
        assert (result.exit_code, result.stderr) == (
            1,
            "error: give either --inputs FILE or --example\n",
        )


def test_a_missing_input_file() -> None:
    result = run("--fiscal-year", "2020", "--inputs", "no-such-file.yaml")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no-such-file.yaml: (file):")


def test_the_docs_list_the_csv_columns_and_every_rule_key() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "premiums-levy.md").read_text("utf-8")
    listed = re.search(r"\(columns `([^`]*)`\)", doc.replace("\n", " "))
    assert listed is not None
    assert tuple(listed.group(1).split(", ")) == LEVY_COLUMNS
    for key in ("alpha", "beta", "beta_prime", "per_capita_share", "min_insured"):
        assert f"{key}" in doc
    for key in ("income_rate_decimals", "mode", "collection_rates.bands"):
        assert f"`{key}`" in doc or f"`rounding.{key}`" in doc


def test_a_local_copy_of_the_rule_file_is_used_and_its_problems_name_the_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    copy = tmp_path / "data" / "premiums" / "levy" / "fy2020.yaml"
    copy.parent.mkdir(parents=True)
    copy.write_text(RULES_2020.replace("      value: 0.89\n", "      value: 1.1\n", 1), "utf-8")
    assert load_levy_rules(2020).parts["medical"].beta.value == Decimal("1.1")
    copy.write_text(RULES_2020.replace("      value: 0.89\n", "      value: -1\n", 1), "utf-8")
    line = _line_of(copy.read_text("utf-8"), "value: -1")
    with pytest.raises(LevyFileError, match=f"^{copy}:{line}: parts.medical.beta.value: "):
        load_levy_rules(2020)
    copy.write_text("schema_version: 1\nfiscal_year: [2020\n", "utf-8")
    with pytest.raises(LevyFileError, match=f"^{copy}:3: "):
        load_levy_rules(2020)


@pytest.mark.parametrize(
    "name",
    ['"\\e[31m高松市"', '"高松\\u202e市"', '"高\\0松市"', '"高松\\n市"', "高" * 101],
)
def test_a_municipality_name_with_a_control_or_too_long_is_refused(name: str) -> None:
    # It was printed as it was (an ESC reached the terminal, an RLO reordered the line, a line
    # break split the row) and written into the CSV.
    _assert_problem(
        parse_levy_inputs,
        INPUTS,
        ("name: 丸亀市", f"name: {name}"),
        (f"name: {name}", "municipalities[1].name", "character"),
    )


def test_levy_command_csv_writes_no_formula(tmp_path: Path) -> None:
    # A spreadsheet opening the CSV ran a name written as a formula.
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text(INPUTS.replace("name: 丸亀市", 'name: "=HYPERLINK(1)"'), "utf-8")
    result = run("--fiscal-year", "2020", "--inputs", str(inputs), "--csv")
    assert result.exit_code == 0, result.output
    names = [row["name"] for row in csv.DictReader(io.StringIO(result.stdout))]
    assert names[3:6] == ["'=HYPERLINK(1)"] * 3
    assert names[0] == "高松市"


def test_levy_command_csv_keeps_negative_differences_numbers(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text(INPUTS.replace("income_rate: 7.10", "income_rate: 1.10"), "utf-8")
    result = run("--fiscal-year", "2020", "--inputs", str(inputs), "--csv")
    takamatsu = next(csv.DictReader(io.StringIO(result.stdout)))
    assert Decimal(takamatsu["diff_income_rate"]) == Decimal("1.10") - Decimal(
        takamatsu["income_rate"]
    )


def test_a_collection_rate_below_one_half_is_refused_as_a_typo() -> None:
    # 1e-30 was taken: 賦課総額 ÷ 1e-30 printed a 均等割 of 31,562,623,007,856,341,… yen and a
    # 所得割率 of 8,276,734,265,542,328,042,328,042,328,000 %.
    for rate in ("1e-30", "0.0093", "0.4999"):
        _assert_problem(
            parse_levy_inputs,
            INPUTS,
            ("collection_rate: 0.97", f"collection_rate: {rate}"),
            ("collection_rate: ", "municipalities[2].collection_rate", "≥ 0.5"),
        )
    parse_levy_inputs(INPUTS.replace("collection_rate: 0.97", "collection_rate: 0.5"), "f.yaml")
    _assert_problem(
        parse_levy_rules,
        RULES_2020,
        ("rate: 0.95", "rate: 1e-30"),
        ("rate: 1e-30", "collection_rates.bands[0].rate", "≥ 0.5"),
    )
