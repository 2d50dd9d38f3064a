"""``kokuho incentives …`` and ``kokuho grants adjust`` end to end: JSON, CSV, Excel, errors
with a one-line reason, and the register's municipalities when a database is configured."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from kokuho.cli import main
from kokuho.cli._incentives import grants, incentives
from kokuho.incentives import example_inputs
from kokuho.registry import import_changes, load_insurers
from kokuho.store import connect
from tests.feedfiles import acquire, write_changes, write_insurers


def run(*args: str) -> Result:
    group = click.Group(commands=dict(main.commands))
    group.add_command(incentives)
    group.add_command(grants)
    return CliRunner().invoke(group, list(args))


EXAMPLE = ("--fy", "2020", "--example")


def test_score_json_and_csv(tmp_path: Path) -> None:
    result = run("incentives", "score", *EXAMPLE, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [p["key"] for p in document["parts"]] == ["municipal", "prefectural"]
    names = [u["name"] for u in document["parts"][0]["units"]]
    assert names == ["高松市", "丸亀市", "直島町"]
    result = run("incentives", "score", *EXAMPLE, "--csv", "-")
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    naoshima = [r for r in table if r["name"] == "直島町" and r["indicator"] == "koyu_6"]
    assert naoshima[0]["points"] == "-15.0" and "計画どおり削減していない" in naoshima[0]["given"]
    workbook = tmp_path / "out.xlsx"
    result = run("incentives", "score", *EXAMPLE, "--excel", str(workbook), "--unit", "直島町")
    assert result.exit_code == 0 and workbook.stat().st_size > 0
    assert "[given] 計画どおり削減していない" in result.stdout


def test_allocate_with_a_budget_of_ones_own(tmp_path: Path) -> None:
    target = tmp_path / "grants.csv"
    result = run(
        "incentives", "allocate", *EXAMPLE, "--budget", "municipal=1,000,000", "--csv", str(target)
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    municipal = [r for r in rows if r["part"] == "municipal"]
    assert {r["budget_yen"] for r in municipal} == {"1000000"}
    result = run("incentives", "allocate", *EXAMPLE, "--budget", "municipal")
    assert result.exit_code == 1 and "PART=YEN" in result.stderr


def test_what_if_and_improvements_as_json() -> None:
    result = run("incentives", "what-if", *EXAMPLE, "--set", "直島町:checkup_rate=60%", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["直島町"]["points_change"] == 60 and rows["直島町"]["yen_change"] == 68_605_593
    result = run("incentives", "what-if", *EXAMPLE, "--set", "札幌市:checkup_rate=60%")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: '札幌市' is not a home municipality or the prefecture"
    result = run("incentives", "improvements", *EXAMPLE, "--unit", "丸亀市", "--json")
    found = json.loads(result.stdout)["improvements"]
    assert found and all(i["name"] == "丸亀市" for i in found)


def test_grants_adjust() -> None:
    result = run("grants", "adjust", *EXAMPLE, "--json")
    assert result.exit_code == 0, result.output
    home = json.loads(result.stdout)["rows"][0]
    assert (home["prefecture"], home["ordinary"]["yen"], home["provisional_yen"]) == (
        "37", 2_719_664_887, 12_898_903_776,
    )  # fmt: skip
    table = list(
        csv.DictReader(io.StringIO(run("grants", "adjust", *EXAMPLE, "--csv", "-").stdout))
    )
    assert [r["prefecture"] for r in table] == ["37", "38", "39"]
    assert table[0]["special_children_yen"] == "0" and table[0]["total_yen"] == "15650840800"


def test_rules_checks_a_file(tmp_path: Path) -> None:
    bad = tmp_path / "fy2020.yaml"
    text = (
        Path(__file__).resolve().parents[1] / "src/kokuho/data/incentives/fy2020.yaml"
    ).read_text("utf-8")
    bad.write_text(text.replace("        max: 110\n", "        max: lots\n"), encoding="utf-8")
    result = run("incentives", "rules", "--file", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:" in result.stderr and "parts[0].indicators[6].max:" in result.stderr
    result = run("incentives", "rules", "--fy", "2021", "--json")
    assert json.loads(result.stdout)["fiscal_year"] == 2021
    assert run("incentives", "rules").exit_code == 1


def test_errors_of_inputs_are_one_line_each(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    shutil.copytree(example_inputs(), inputs)
    (inputs / "collection_rates.csv").write_text(
        "fiscal_year,code,rate\n2018,370015,93\n", encoding="utf-8"
    )
    result = run(
        "incentives", "score", "--fy", "2020", "--no-register", "--prefecture", "37",
        "--inputs", str(inputs),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "collection_rates.csv:2: collection_rate: 93 is not a rate" in result.stderr


def test_the_registers_municipalities_are_the_home_units(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = connect(database_url)
    load_insurers(engine, write_insurers(tmp_path / "i.csv"))
    import_changes(engine, write_changes(tmp_path / "c.csv", [acquire("K1", "2019-04-01")]))
    engine.dispose()
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    shutil.copytree(example_inputs(), tmp_path / "home" / "incentives")
    result = run("incentives", "score", "--fy", "2020", "--data-year", "2020", "--json")
    assert result.exit_code == 0, result.output
    [unit] = json.loads(result.stdout)["parts"][0]["units"]
    assert (unit["code"], unit["name"], unit["insured"]) == ("370015", "高松市", 1)


def test_a_budget_in_other_scripts_digits_is_refused() -> None:
    """'٣' passes str.isdecimal and int() reads it as 3: a budget of 3 yen nobody typed."""
    for amount in ("٣", "३००", "𝟑"):
        result = run("incentives", "allocate", *EXAMPLE, "--budget", f"municipal={amount}")
        assert result.exit_code == 1 and "PART=YEN" in result.stderr, amount
    result = run("incentives", "allocate", *EXAMPLE, "--budget", "municipal=５０", "--json")
    assert result.exit_code == 0, result.output
    parts = {p["key"]: p["budget_yen"] for p in json.loads(result.stdout)["parts"]}
    assert parts["municipal"] == 50  # full-width digits are digits as typed in Japan


FORMULA_NAMES = {"370122": '=HYPERLINK("http://example.invalid","直島町")', "39": "@SUM(1+1)"}


def _formula_inputs(tmp_path: Path) -> Path:
    """The example with 直島町 and 高知県 named like spreadsheet formulas (names come from
    national.csv, or the register's insurers file)."""
    folder = tmp_path / "inputs"
    shutil.copytree(example_inputs(), folder)
    rows = list(csv.reader(io.StringIO((folder / "national.csv").read_text("utf-8"))))
    for row in rows[1:]:
        row[3] = FORMULA_NAMES.get(row[2], row[3])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (folder / "national.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "command",
    [
        ("incentives", "score"),
        ("incentives", "allocate"),
        ("incentives", "improvements"),
        ("incentives", "what-if", "--set", "高松市:checkup_rate=50%"),
        ("grants", "adjust"),
    ],
)
def test_csv_outputs_neutralise_formula_names(tmp_path: Path, command: tuple[str, ...]) -> None:
    """A name starting with = + - @ reached the CSV as it was: a spreadsheet opening the file
    ran =HYPERLINK(…). As the other CSV outputs, such a cell starts with an apostrophe."""
    inputs = _formula_inputs(tmp_path)
    options = ("--fy", "2020", "--inputs", str(inputs), "--no-register", "--prefecture", "37")
    result = run(*command, *options, "--csv", "-")
    assert result.exit_code == 0, result.output
    cells = [c for row in csv.reader(io.StringIO(result.stdout)) for c in row]
    names = [c for c in cells if "HYPERLINK" in c or "SUM(" in c]
    assert names, result.stdout[:500]
    assert all(c.startswith("'") for c in names), names
    assert not [c for c in cells if c[:1] in ("=", "@", "+")]


def test_the_workbook_keeps_formula_names_as_text(tmp_path: Path) -> None:
    """openpyxl stores a string starting with = as a formula: the workbook held a live
    =HYPERLINK(…) in the 市町村名 of every sheet naming 直島町."""
    from openpyxl import load_workbook

    inputs = _formula_inputs(tmp_path)
    workbook = tmp_path / "r2.xlsx"
    options = ("--fy", "2020", "--inputs", str(inputs), "--no-register", "--prefecture", "37")
    result = run("incentives", "score", *options, "--excel", str(workbook))
    assert result.exit_code == 0, result.output
    book = load_workbook(workbook)
    cells = [c for sheet in book for row in sheet.iter_rows() for c in row]
    named = [c for c in cells if c.value == FORMULA_NAMES["370122"]]
    assert named and all(c.data_type == "s" for c in named)
    assert not [c.coordinate for c in cells if c.data_type == "f"]


@pytest.mark.parametrize("digits", [16, 100, 5_000])
def test_a_budget_past_any_national_budget_is_refused(digits: int) -> None:
    """--budget municipal=<100 nines> printed grants of 10**99 yen; 5,000 digits ended with
    Python's 'Exceeds the limit (4300 digits) for integer string conversion'."""
    result = run("incentives", "allocate", *EXAMPLE, "--budget", "municipal=" + "9" * digits)
    assert result.exit_code == 1, result.output
    assert "at most 100,000,000,000,000" in result.stderr and len(result.stderr) < 300


def test_a_rule_file_budget_past_any_national_budget_is_refused(tmp_path: Path) -> None:
    from importlib import resources

    text = resources.files("kokuho").joinpath("data/incentives/fy2020.yaml").read_text("utf-8")
    assert "yen: 50000000000" in text
    path = tmp_path / "fy2020.yaml"
    path.write_text(text.replace("yen: 50000000000", "yen: " + "9" * 40, 1), encoding="utf-8")
    result = run("incentives", "rules", "--file", str(path))
    assert result.exit_code == 1 and "budget.yen" in result.stderr, result.output
