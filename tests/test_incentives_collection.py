"""固有① 収納率 computed from the premiums room's 調定 and payments, with no CSV; the CSV as the
override; a municipality without either reported as missing; 現年分 (FY2021 rules) against
過年度分を含む (FY2020 rules). Figures are worked by hand below."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.cli._incentives import incentives
from kokuho.incentives import RuleFileError, parse_rules
from kokuho.premiums import import_payments, record_charges
from kokuho.registry import import_changes, load_insurers
from kokuho.store import connect
from tests.feedfiles import acquire, write_changes, write_csv
from tests.premiumrows import CITY, assessment, payment, write_payments

TAKAMATSU, MARUGAME = "370015", "370023"  # 保険者番号 of 372013 and 372021

# FY2019 調定 of household H: 10 × 5,000 = 50,000, of which 47,000 paid in July 2019 (現年分
# 47,000 ÷ 50,000 = 94 %). FY2018: 10 × 1,000 = 10,000, never paid, so FY2019's 滞納繰越分 is
# 0 of 10,000 and 過年度分を含む is 47,000 ÷ 60,000 = 78.333… %. FY2018's own 現年分 is
# 0 ÷ 10,000 = 0 %, so FY2019 improved on it (前年度より上昇, 25 points).
CURRENT = 47_000 / 50_000
INCLUDING_PAST = 47_000 / 60_000

# Four municipalities of another prefecture in the same size band (3千人未満) for FY2019.
OTHERS = {"382019": 0.95, "382027": 0.93, "382035": 0.91, "382043": 0.89}
# With 94 % the band ranks .95, .94, .93, .91, .89: 上位3割 are the best ⌈0.3 × 5⌉ = 2, so 94 %
# earns 50 points. The CSV's 92 % ranks third: 上位5割 (⌈0.5 × 5⌉ = 3), 35 points. 78.3 %
# (過年度分を含む, the wrong definition for FY2021) would rank last: no rank points.


def run(*args: str) -> Any:
    group = click.Group(commands=dict(main.commands))
    group.add_command(incentives)
    return CliRunner().invoke(group, list(args))


@pytest.fixture
def home(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A register of two 市町村国保 (one member in 高松市), 高松市's 調定 and payments, and an
    inputs folder with the backdrop only; returns the inputs folder."""
    engine = connect(database_url)
    insurers = [
        {"insurer_number": TAKAMATSU, "name": "高松市国民健康保険", "kind": "kokuho_municipal",
         "municipality_code": CITY},
        {"insurer_number": MARUGAME, "name": "丸亀市国民健康保険", "kind": "kokuho_municipal",
         "municipality_code": "372021"},
    ]  # fmt: skip
    columns = ["insurer_number", "name", "kind", "municipality_code"]
    load_insurers(engine, write_csv(tmp_path / "insurers.csv", columns, insurers))
    import_changes(engine, write_changes(tmp_path / "c.csv", [acquire("K1", "2018-04-01")]))
    day = dt.date.fromisoformat
    record_charges(engine, assessment("H", 2018, [1_000] * 10), day("2018-06-15"), "initial")
    record_charges(engine, assessment("H", 2019, [5_000] * 10), day("2019-06-15"), "initial")
    paid = [payment("p1", "H", 2019, "2019-07-01", 47_000)]
    import_payments(engine, write_payments(tmp_path / "payments.csv", paid))
    engine.dispose()
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rows = [
        {"fiscal_year": 2019, "kind": "municipality", "code": code, "name": f"市{code}",
         "prefecture": "38", "insured": 1000, "collection_rate": rate}
        for code, rate in OTHERS.items()
    ]  # fmt: skip
    columns = ["fiscal_year", "kind", "code", "name", "prefecture", "insured", "collection_rate"]
    write_csv(inputs / "national.csv", columns, rows)
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    return inputs


def _score(inputs: Path, *args: str) -> dict[str, Any]:
    result = run("incentives", "score", "--inputs", str(inputs), *args, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _unit(document: dict[str, Any], code: str) -> dict[str, Any]:
    [unit] = [u for u in document["parts"][0]["units"] if u["code"] == code]
    return unit


def _rate(unit: dict[str, Any]) -> dict[str, Any]:
    [value] = [v for v in unit["values"] if v["field"] == "collection_rate"]
    return value


def _given(unit: dict[str, Any]) -> list[tuple[str, float]]:
    """(label, points) of the 固有① tiers given."""
    [indicator] = [i for i in unit["indicators"] if i["indicator"] == "koyu_1"]
    return [(t["label"], t["awarded"]) for t in indicator["tiers"] if t["status"] == "given"]


def test_the_computed_rate_earns_its_tier_without_a_csv(home: Path) -> None:
    # FY2021 scores the 現年度分 of FY2019 (lag 2).
    document = _score(home, "--fy", "2021")
    takamatsu = _unit(document, TAKAMATSU)
    value = _rate(takamatsu)
    assert (value["year"], value["origin"]) == (2019, "derived")
    assert value["value"] == pytest.approx(CURRENT)
    assert _given(takamatsu) == [("現年度分 規模別上位3割", 50), ("現年度分 前年度より上昇", 25)]
    assert any("computed from the premiums room" in n and TAKAMATSU in n for n in document["notes"])
    # 収納率(県全体): the sums over the municipalities with 調定, here 高松市 alone.
    [prefecture] = document["parts"][1]["units"]
    assert (prefecture["code"], _rate(prefecture)["origin"]) == ("37", "derived")
    assert _rate(prefecture)["value"] == pytest.approx(CURRENT)
    # 丸亀市 has neither 調定 nor a CSV row: missing, as before, and no points for it.
    marugame = _unit(document, MARUGAME)
    assert _rate(marugame)["origin"] == "missing"
    assert _rate(marugame)["value"] is None
    assert _given(marugame) == []


def test_the_csv_beats_the_computed_rate_and_the_notes_say_so(home: Path) -> None:
    write_csv(
        home / "collection_rates.csv",
        ["fiscal_year", "code", "rate"],
        [{"fiscal_year": 2019, "code": TAKAMATSU, "rate": "0.92"}],
    )
    document = _score(home, "--fy", "2021")
    takamatsu = _unit(document, TAKAMATSU)
    value = _rate(takamatsu)
    assert (value["value"], value["origin"]) == (0.92, "file")
    assert _given(takamatsu) == [("現年度分 規模別上位5割", 35), ("現年度分 前年度より上昇", 25)]
    assert (
        f"collection_rate of {TAKAMATSU} FY2019: the input file's 92.00% overrides the 94.00% "
        "computed from 調定 and payments"
    ) in document["notes"]


def test_fy2020_takes_the_rate_including_past_years(home: Path) -> None:
    # The FY2020 indicator is 「保険料(税)収納率 ※過年度分を含む」: 現年分 and 滞納繰越分 together.
    document = _score(home, "--fy", "2020", "--data-year", "2019")
    value = _rate(_unit(document, TAKAMATSU))
    assert value["origin"] == "derived"
    assert value["value"] == pytest.approx(INCLUDING_PAST)
    assert any("(過年度分を含む) computed" in n for n in document["notes"])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    include_past_years: false\n", ""),  # premiums without a definition
        ("    origin: premiums\n", ""),  # a definition on a field kokuho does not compute
    ],
)
def test_a_rule_file_must_say_which_collection_rate(old: str, new: str) -> None:
    text = resources.files("kokuho").joinpath("data/incentives/fy2021.yaml").read_text("utf-8")
    assert old in text
    with pytest.raises(RuleFileError) as caught:
        parse_rules(text.replace(old, new), "mine.yaml")
    [problem] = caught.value.problems
    assert "include_past_years" in str(problem) and "collection_rate" in str(problem)
