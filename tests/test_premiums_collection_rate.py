"""収納率 of a small municipality worked by hand, 現年分, 滞納繰越分 and 過年度分を含む, with the
出納整理期間 and a 減額更正 of a carried-over year; and the ``kokuho premiums`` commands."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.premiums import collection_rates, collection_rates_for_incentives, record_charges
from kokuho.premiums import import_payments as load
from tests.premiumrows import CITY, assessment, payment, write_payments

OTHER = "372021"
D = dt.date.fromisoformat


def _small_city(engine: sa.Engine, tmp_path: Path) -> None:
    """Three households in FY2020, two in FY2021, and one in another municipality.

    FY2019: E 10,000 unpaid until 4,000 on 20 April 2021 (a 過年度 receipt: FY2021's accounts).
    FY2020: A 100,000 paid in July; B 50,000 of which 30,000 paid in December and 10,000 in
    July 2021 (滞納繰越分); C 30,000 of which 3,000 paid on 20 May 2021 (出納整理期間, still
    FY2020), then reduced to 3,000 in September 2021 (減額更正). FY2021: A 100,000 and B
    50,000 paid in full in July 2021; D (other city) 10,000 unpaid.
    """
    june20, june21 = D("2020-06-15"), D("2021-06-15")
    record_charges(engine, assessment("E", 2019, [1_000] * 10), D("2019-06-15"), "initial")
    record_charges(engine, assessment("A", 2020, [10_000] * 10), june20, "initial")
    record_charges(engine, assessment("B", 2020, [5_000] * 10), june20, "initial")
    record_charges(engine, assessment("C", 2020, [3_000] * 10), june20, "initial")
    record_charges(engine, assessment("A", 2021, [10_000] * 10), june21, "initial")
    record_charges(engine, assessment("B", 2021, [5_000] * 10), june21, "initial")
    record_charges(engine, assessment("D", 2021, [1_000] * 10, OTHER), june21, "initial")
    lower = assessment("C", 2020, [3_000] + [0] * 9)
    record_charges(engine, lower, D("2021-09-01"), "decrease")
    rows = [
        payment("a20", "A", 2020, "2020-07-01", 100_000),
        payment("b20", "B", 2020, "2020-12-01", 30_000),
        payment("c20", "C", 2020, "2021-05-20", 3_000),
        payment("e19", "E", 2019, "2021-04-20", 4_000),
        payment("b20x", "B", 2020, "2021-07-15", 10_000),
        payment("a21", "A", 2021, "2021-07-01", 100_000),
        payment("b21", "B", 2021, "2021-07-01", 50_000),
    ]
    load(engine, write_payments(tmp_path / "payments.csv", rows))


def test_collection_rate_by_hand(engine: sa.Engine, tmp_path: Path) -> None:
    _small_city(engine, tmp_path)
    # FY2020 現年分: 調定 100,000 + 50,000 + 30,000 = 180,000 (C's 減額 came after 出納閉鎖);
    # 収納 100,000 + 30,000 + 3,000 = 133,000 → 73.888…% → 73.89. 滞納繰越分: E's FY2019
    # 10,000 carried in on 31 May 2020, nothing received by 31 March 2021 (E's April payment
    # is a 過年度 receipt of FY2021). 過年度分を含む: 133,000 ÷ 190,000 = 70%.
    [fy2020] = collection_rates(engine, 2020)
    assert (fy2020.current_charged, fy2020.current_collected) == (180_000, 133_000)
    assert fy2020.current_rate == Fraction(133, 180)
    assert fy2020.as_json()["current"]["percent"] == "73.89"
    assert (fy2020.carried_charged, fy2020.carried_collected) == (10_000, 0)
    assert fy2020.as_json()["total_percent"] == "70.00"

    # FY2021: 現年分 150,000 of 150,000 in the city, 0 of 10,000 in the other.
    # 滞納繰越分: B carried 20,000 in on 31 May 2021 and paid 10,000; E (FY2019) carried 10,000
    # in on 31 March 2021 and paid 4,000 in April; C carried 27,000 but its 減額更正 of
    # −27,000 leaves 0: 14,000 of 30,000 → 46.67%. 過年度分を含む: 164,000 ÷ 180,000 = 91.11…%.
    city, other = collection_rates(engine, 2021)
    assert (city.municipality, other.municipality) == (CITY, OTHER)
    assert (city.current_charged, city.current_collected) == (150_000, 150_000)
    assert (city.carried_charged, city.carried_collected) == (30_000, 14_000)
    assert city.total_rate == Fraction(164, 180)
    assert city.as_json()["carried_over"] == {
        "charged": 30_000,
        "collected": 14_000,
        "percent": "46.67",
        "written_off": 0,  # no 不納欠損 (tests/test_premiums_prescription_rate.py has some)
    }
    assert city.as_json()["total_percent"] == "91.11"
    assert (other.current_charged, other.current_collected, other.total_rate) == (10_000, 0, 0)

    assert collection_rates_for_incentives(engine, 2021) == {
        CITY: Decimal("0.911111"),
        OTHER: Decimal("0.000000"),
    }
    current = collection_rates_for_incentives(engine, 2021, include_past_years=False)
    assert current[CITY] == Decimal("1.000000")


def test_unknown_whereabouts_is_deducted_from_the_current_charge(
    engine: sa.Engine, tmp_path: Path
) -> None:
    _small_city(engine, tmp_path)
    # 133,000 ÷ (180,000 − 10,000) = 78.235…% → 78.24.
    [rate] = collection_rates(engine, 2020, CITY, {CITY: 10_000})
    assert (rate.current_charged, rate.unknown_whereabouts) == (170_000, 10_000)
    assert rate.as_json()["current"]["percent"] == "78.24"
    with pytest.raises(ValueError, match="exceeds its unpaid 現年分"):
        collection_rates(engine, 2020, CITY, {CITY: 47_001})  # only 47,000 is unpaid


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[CliRunner, sa.Engine]:
    from kokuho.config import Settings
    from kokuho.store import connect

    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    engine = connect(Settings.from_env().database_url)
    return CliRunner(), engine


def test_the_commands(cli: tuple[CliRunner, sa.Engine], tmp_path: Path) -> None:
    runner, engine = cli
    record_charges(engine, assessment("B", 2020, [5_000] * 10), D("2020-06-15"), "initial")
    rows = [
        payment("b1", "B", 2020, "2020-12-01", 30_000),
        payment("b2", "B", 2020, "2020-12-02", 5_000, 1),
    ]
    path = write_payments(tmp_path / "p.csv", rows)

    loaded = runner.invoke(main, ["premiums", "payments", "import", str(path), "--json"])
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.output)["files"][0]["added"] == 2

    # 30,000 pays 第1–6期; b2 pays 第1期 again (5,000 過誤納). On 2021-06-01 第7–10期 (20,000)
    # are 滞納繰越分.
    out = runner.invoke(
        main, ["premiums", "arrears", "--municipality", CITY, "--as-of", "2021-06-01", "--csv"]
    )
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(out.output)))
    assert [(r["instalment"], r["outstanding"], r["category"]) for r in table] == [
        (str(n), "5000", "carried_over") for n in range(7, 11)
    ]

    decided = runner.invoke(
        main,
        ["premiums", "refunds", "decide", "--municipality", CITY, "--on", "2021-06-01", "--json"],
    )
    assert decided.exit_code == 0, decided.output
    [settled] = json.loads(decided.output)["settlements"]
    assert (settled["kind"], settled["amount"], settled["target_instalment"]) == (
        "appropriation",
        5_000,
        7,
    )

    listed = runner.invoke(
        main, ["premiums", "refunds", "list", "--municipality", CITY, "--as-of", "2021-06-01"]
    )
    assert listed.exit_code == 0, listed.output
    assert "過誤納 5,000円 → 充当 2020年度 第7期" in listed.output

    rate = runner.invoke(main, ["premiums", "collection-rate", "--fiscal-year", "2020", "--json"])
    assert rate.exit_code == 0, rate.output
    # 30,000 of 50,000 received by 31 May 2021 (the 充当 came on 1 June: FY2021's accounts).
    assert json.loads(rate.output)["rates"][0]["current"]["percent"] == "60.00"


def test_a_malformed_day_is_a_usage_error_naming_its_option(
    cli: tuple[CliRunner, sa.Engine],
) -> None:
    """As every malformed option (README): exit 2, not 1."""
    runner, _ = cli
    for day in ("2021-13-01", "2021-W01-1"):  # an ISO week date is no YYYY-MM-DD either
        args = ["premiums", "arrears", "--municipality", CITY, "--as-of", day]
        result = runner.invoke(main, args)
        assert result.exit_code == 2, day
        assert "Invalid value for '--as-of'" in result.stderr and "not a date" in result.stderr


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["arrears", "--municipality", "37", "--as-of", "2021-01-01"], "6-digit"),
        (["arrears", "--municipality", CITY, "--json", "--csv"], "exclude each other"),
        (["collection-rate", "--fiscal-year", "2020", "--unknown-whereabouts", "x"], "CODE=YEN"),
        (["refunds", "pay", "99", "--on", "2021-01-01"], "no refund 99"),
        (["payments", "import", "missing.csv"], "cannot open"),
    ],
)
def test_bad_input_exits_1_with_one_line(
    cli: tuple[CliRunner, sa.Engine], args: list[str], reason: str
) -> None:
    runner, _ = cli
    result = runner.invoke(main, ["premiums", *args])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert reason in lines[-1] and lines[-1].startswith("error:")


@pytest.mark.parametrize(
    "args",
    [
        ["premiums", "arrears", "--municipality", "999999"],
        ["premiums", "refunds", "list", "--municipality", "999999"],
        ["premiums", "refunds", "decide", "--municipality", "999999", "--on", "2021-06-01"],
        ["premiums", "collection-rate", "--fiscal-year", "2020", "--municipality", "999999"],
    ],
)
def test_a_municipality_nobody_knows_is_refused_not_answered_empty(
    cli: tuple[CliRunner, sa.Engine], args: list[str]
) -> None:
    """A typo (or the 保険者番号 given for the code) answered "0 世帯" with exit 0, as if the
    municipality had no arrears; a municipality of the ledger is answered (test_the_commands)."""
    runner, engine = cli
    record_charges(engine, assessment("B", 2020, [5_000] * 10), D("2020-06-15"), "initial")
    result = runner.invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "--municipality: 999999: not the 全国地方公共団体コード" in result.output


def test_unknown_whereabouts_of_a_municipality_not_reported_is_refused(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """A deduction for a code the report has no row for (a typo, another municipality than
    ``--municipality``, one with no 調定 that year) was ignored without a word: the clerk read
    a 収納率 they believed net of the 居所不明者分."""
    _small_city(engine, tmp_path)
    with pytest.raises(ValueError, match="居所不明者分 of 372021: no 調定 of FY2020"):
        collection_rates(engine, 2020, None, {OTHER: 1_000})  # D is charged for FY2021 only
    with pytest.raises(ValueError, match="居所不明者分 of 372021: no 調定 of FY2021"):
        collection_rates(engine, 2021, CITY, {OTHER: 0})  # not in a report of CITY alone
    [rate] = collection_rates(engine, 2021, OTHER, {OTHER: 10_000})  # D's whole 10,000 unpaid
    assert (rate.current_charged, rate.current_rate) == (0, None)


def test_unknown_whereabouts_given_twice_for_one_code_is_refused(
    cli: tuple[CliRunner, sa.Engine],
) -> None:
    """``--unknown-whereabouts 372013=1000 --unknown-whereabouts 372013=2000`` kept the last
    and dropped the first without a word."""
    runner, engine = cli
    record_charges(engine, assessment("B", 2020, [5_000] * 10), D("2020-06-15"), "initial")
    args = ["premiums", "collection-rate", "--fiscal-year", "2020"]
    twice = [
        *args,
        "--unknown-whereabouts",
        f"{CITY}=1000",
        "--unknown-whereabouts",
        f"{CITY}=2000",
    ]
    result = runner.invoke(main, twice)
    assert result.exit_code == 1, result.output
    assert f"{CITY} is given twice" in result.stderr.strip().splitlines()[-1]
    once = runner.invoke(main, [*args, "--unknown-whereabouts", f"{CITY}=2000", "--json"])
    assert once.exit_code == 0, once.output
    [rate] = json.loads(once.output)["rates"]
    assert rate["unknown_whereabouts_deducted"] == 2_000


def test_refunds_list_as_of_a_day_shows_only_what_was_decided_by_then(
    cli: tuple[CliRunner, sa.Engine], tmp_path: Path
) -> None:
    """``refunds list --as-of 2021-05-31`` listed the 還付 decided on 2021-06-01 as 未還付 (and
    its JSON/CSV as open): a refund that did not exist on the day asked."""
    runner, engine = cli
    record_charges(engine, assessment("B", 2020, [5_000] * 10), D("2020-06-15"), "initial")
    rows = [payment(f"b{n}", "B", 2020, "2020-12-01", 5_000, n) for n in range(1, 11)]
    rows.append(payment("b1x", "B", 2020, "2020-12-02", 5_000, 1))  # 第1期 paid twice
    assert load(engine, write_payments(tmp_path / "p.csv", rows)).added == 11
    common = ["premiums", "refunds"]
    decided = runner.invoke(main, [*common, "decide", "--municipality", CITY, "--on",
                                   "2021-06-01"])  # fmt: skip
    assert decided.exit_code == 0, decided.output

    def listed(day: str) -> list[dict[str, object]]:
        result = runner.invoke(main, [*common, "list", "--municipality", CITY, "--as-of", day,
                                      "--json"])  # fmt: skip
        assert result.exit_code == 0, result.output
        found: list[dict[str, object]] = json.loads(result.output)["settlements"]
        return found

    assert listed("2021-05-31") == []
    [refund] = listed("2021-06-01")
    assert (refund["kind"], refund["amount"], refund["status"]) == ("refund", 5_000, "open")
    text = runner.invoke(main, [*common, "list", "--municipality", CITY, "--as-of",
                                "2021-05-31"])  # fmt: skip
    assert text.exit_code == 0 and "還付" not in text.output
