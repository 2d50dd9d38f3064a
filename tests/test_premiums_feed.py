# ruff: noqa: F811  (``town`` is the fixture of test_premiums_levying, requested by name)
"""更正 from the change feed: ``kokuho registry import`` reassesses the fiscal years with 調定
that the imported acquisitions and losses reach, end to end through the real files and the
CLI, on SQLite and PostgreSQL.

The town, its rules and its households are those of tests/test_premiums_levying.py (高松市
372013 FY2021: 医療分 所得割 8.39 %, 均等割 27,100, 平等割 24,300; 支援分 2.48 %, 8,300,
6,400; 基礎控除 430,000; parts floored to 100 yen; first 納期 2021-06-30). By hand:

- W1 (P alone, 給与所得 3,000,000): 医療 (3,000,000 − 430,000) × 8.39 % = 215,623 + 27,100 +
  24,300 = 267,023; 支援 2,570,000 × 2.48 % = 63,736 + 8,300 + 6,400 = 78,436; year 267,000 +
  78,400 = 345,400. Lost on 2021-10-01 → April–September, 6 months: 133,511 → 133,500 and
  39,218 → 39,200 = 172,700, a 減額 of 172,700.
- W2 (Q, 給与所得 2,000,000, no 軽減: 2割 line 430,000 + 520,000 × 1 = 950,000 alone, 1,470,000
  with R): alone 医療 1,570,000 × 8.39 % = 131,723 + 27,100 + 24,300 = 183,123 → 183,100;
  支援 38,936 + 8,300 + 6,400 = 53,636 → 53,600; year 236,700. R (no income) joins from
  2021-08-01: April–July alone, August–March with R (均等割 twice): 医療 210,223 and 支援
  61,936 a year; 医療 (183,123 × 4 + 210,223 × 8) / 12 = 201,189.67 → 201,100; 支援
  (53,636 × 4 + 61,936 × 8) / 12 = 59,169.33 → 59,100; year 260,200, a 増額 of 23,500.
- §110-2(1): FY2021's first 納期 is 2021-06-30, so from 2023-07-01 no 賦課決定.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from kokuho.cli import main
from kokuho.premiums import (
    assess_fiscal_year,
    feed_position,
    import_payments,
    reassess_after_feed,
    touched_years,
)
from kokuho.premiums._charges import charge_decisions
from kokuho.registry import import_changes
from tests.feedfiles import lose, write_changes
from tests.killing import kill_when_said
from tests.premiumrows import payment, write_payments
from tests.test_premiums_levying import TOWN, YEAR, cover, in_force, town  # noqa: F401

LOSS = [lose("P2", "2021-10-01", number="1001", reason="03")]
JOIN = [cover("R1", "R", "2021-08-01")]


def registry_import(
    database_url: str, monkeypatch: pytest.MonkeyPatch, path: Path, *options: str
) -> Result:
    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    return CliRunner().invoke(main, ["registry", "import", str(path), *options])


def decisions(engine: sa.Engine) -> list[tuple[str, str, dt.date]]:
    d = charge_decisions.c
    query = sa.select(d.household_id, d.kind, d.decided_on).order_by(d.decision_id)
    with engine.connect() as connection:
        return [(h, k, day) for h, k, day in connection.execute(query)]


def test_a_retroactive_loss_in_the_feed_gives_the_decrease_and_a_refund(
    town: sa.Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    # W1 pays the whole year in September, before the loss reaches the register.
    pay = [payment("PAY1", "W1", YEAR, "2021-09-30", 345_400, municipality=TOWN)]
    import_payments(town, write_payments(tmp_path / "payments.csv", pay))
    feed = write_changes(tmp_path / "changes_2022-01.csv", LOSS)
    result = registry_import(database_url, monkeypatch, feed, "--decided-on", "2022-01-20",
                             "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.stdout)["reassessed"]
    assert (run["municipality"], run["fiscal_year"]) == (TOWN, YEAR)
    assert run["decided_on"] == "2022-01-20"
    assert [(c["household_id"], c["kind"], c["previous_total"], c["total"])
            for c in run["changes"]] == [("W1", "decrease", 345_400, 172_700)]  # fmt: skip
    assert run["difference"] == -172_700 and run["refused"] == []
    assert in_force(town)["W1"] == 172_700
    assert decisions(town)[-1] == ("W1", "decrease", dt.date(2022, 1, 20))
    # The 172,700 yen paid beyond the corrected 調定 is 過誤納金; no arrears to 充当: 還付.
    refunds = CliRunner().invoke(main, ["premiums", "refunds", "decide", "--municipality", TOWN,
                                        "--on", "2022-01-20", "--json"])  # fmt: skip
    assert refunds.exit_code == 0, refunds.output
    [refund] = json.loads(refunds.stdout)["settlements"]
    assert (refund["household"], refund["kind"], refund["amount"]) == ("W1", "refund", 172_700)
    # §110(1): claimable for two years from the decision.
    assert refund["last_claim_day"] == "2024-01-20" and refund["status"] == "open"
    # The same file again applies nothing; its year is reassessed again and found unchanged.
    count = len(decisions(town))
    again = registry_import(database_url, monkeypatch, feed, "--decided-on", "2022-02-01",
                            "--json")  # fmt: skip
    assert again.exit_code == 0, again.output
    [run] = json.loads(again.stdout)["reassessed"]
    assert run["changes"] == [] and run["refused"] == [] and run["unchanged"] == 2
    assert len(decisions(town)) == count


def test_a_retroactive_acquisition_gives_the_increase(
    town: sa.Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    assert in_force(town)["W2"] == 236_700
    feed = write_changes(tmp_path / "changes_2021-11.csv", JOIN)
    result = registry_import(database_url, monkeypatch, feed, "--decided-on", "2021-11-10")
    assert result.exit_code == 0, result.output
    assert "更正 372013 FY2021 (2021-11-10): 1 decisions, 1 unchanged, 0 refused" in result.stdout
    assert "W2 増額賦課: 236,700円 → 260,200円" in result.stdout
    assert in_force(town) == {"W1": 345_400, "W2": 260_200}


def test_beyond_the_period_limit_the_decision_is_refused_with_the_reason(
    town: sa.Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    before = in_force(town)
    feed = write_changes(tmp_path / "changes_2023-07.csv", LOSS + JOIN)
    result = registry_import(database_url, monkeypatch, feed, "--decided-on", "2023-07-01",
                             "--json")  # fmt: skip
    # The changes are loaded (the register is right); only the 賦課決定 is barred.
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["totals"]["applied"] == 2
    [run] = document["reassessed"]
    assert run["changes"] == []
    refused = {r["household_id"]: r["reason"] for r in run["refused"]}
    assert set(refused) == {"W1", "W2"}
    assert all("§110-2(1)" in reason and "2023-07-01" in reason for reason in refused.values())
    assert in_force(town) == before
    # The file again applies nothing; its year is reassessed again, and is still barred.
    text = registry_import(database_url, monkeypatch, feed, "--decided-on", "2023-07-02")
    assert text.exit_code == 0, text.output
    assert "0 applied" in text.stdout and "0 decisions, 0 unchanged, 2 refused" in text.stdout
    assert in_force(town) == before


def test_the_day_before_the_limit_the_decisions_pass(
    town: sa.Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    feed = write_changes(tmp_path / "changes_2023-06.csv", LOSS + JOIN)
    result = registry_import(database_url, monkeypatch, feed, "--decided-on", "2023-06-30")
    assert result.exit_code == 0, result.output
    assert "W1 減額賦課: 345,400円 → 172,700円" in result.stdout
    assert "W2 増額賦課: 236,700円 → 260,200円" in result.stdout


def test_no_reassess_leaves_the_charges_and_bad_options_are_refused(
    town: sa.Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    count = len(decisions(town))
    feed = write_changes(tmp_path / "changes_2022-01.csv", LOSS)
    bad = registry_import(database_url, monkeypatch, feed, "--decided-on", "2022-02-30")
    assert bad.exit_code == 2 and "2022-02-30" in bad.output  # a malformed option (README)
    both = registry_import(database_url, monkeypatch, feed, "--no-reassess", "--decided-on",
                           "2022-01-20")  # fmt: skip
    assert both.exit_code == 1 and "exclude" in both.output
    assert len(decisions(town)) == count  # a bad option stops before anything is loaded
    result = registry_import(database_url, monkeypatch, feed, "--no-reassess", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["totals"]["lost"] == 1 and document["reassessed"] == []
    assert len(decisions(town)) == count and in_force(town)["W1"] == 345_400


def test_which_years_a_feed_reaches(town: sa.Engine, tmp_path: Path) -> None:
    """Only years with 調定, from the fiscal year of the effective date on; a loss effective
    in March 2021 (FY2020) reaches FY2021 too, one in April 2022 (FY2022) does not."""
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    start = feed_position(town)
    assert touched_years(town, start) == []
    import_changes(town, write_changes(tmp_path / "late.csv",
                                       [lose("Q2", "2022-04-01", number="1002")]))  # fmt: skip
    assert touched_years(town, start) == []
    import_changes(town, write_changes(tmp_path / "early.csv",
                                       [lose("P2", "2021-03-31", number="1001")]))  # fmt: skip
    [touch] = touched_years(town, start)
    assert (touch.municipality, touch.fiscal_year, touch.events) == (TOWN, YEAR, 1)
    # P is not covered in FY2021 at all: W1 is reduced to 0.
    [run] = reassess_after_feed(town, start, dt.date(2021, 12, 1))
    assert [(c.household_id, c.kind, c.total) for c in run.changes] == [("W1", "decrease", 0)]
    assert reassess_after_feed(town, feed_position(town), dt.date(2021, 12, 2)) == []


_KILLED_BEFORE_THE_CORRECTION = """
import sys, time
import kokuho.premiums
from kokuho.cli import main

def _stop(*args, **kwargs):
    # The feed is committed; the 更正 has not started: say so and wait for the kill.
    print("fed", flush=True)
    time.sleep(120)

kokuho.premiums.reassess_after_feed = _stop
main(["registry", "import", sys.argv[1], "--decided-on", "2022-01-20"])
"""


def test_a_run_killed_between_the_feed_and_its_correction_is_completed_by_the_rerun(
    town: sa.Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 after the change feed is committed and before its 更正: the same command run
    again finds the file loaded and still makes the 更正, as a run that was not killed."""
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    feed = write_changes(tmp_path / "changes_2022-01.csv", LOSS)
    env = {**os.environ, "KOKUHO_DATABASE_URL": database_url, "PYTHONPATH": "src"}
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_BEFORE_THE_CORRECTION, str(feed)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,  # no progress
    )  # fmt: skip
    kill_when_said(child, "fed")
    assert child.returncode == -signal.SIGKILL
    assert in_force(town)["W1"] == 345_400  # the loss is in the register, not yet in 調定
    again = registry_import(database_url, monkeypatch, feed, "--decided-on", "2022-01-20",
                            "--json")  # fmt: skip
    assert again.exit_code == 0, again.output
    document = json.loads(again.stdout)
    assert document["totals"]["duplicates"] == 1 and document["totals"]["applied"] == 0
    [run] = document["reassessed"]
    assert [(c["household_id"], c["kind"], c["total"]) for c in run["changes"]] == [
        ("W1", "decrease", 172_700)
    ]  # fmt: skip
    assert in_force(town)["W1"] == 172_700
    assert decisions(town)[-1] == ("W1", "decrease", dt.date(2022, 1, 20))
    # Once more: the 更正 is in force, nothing more is decided.
    count = len(decisions(town))
    third = registry_import(database_url, monkeypatch, feed, "--decided-on", "2022-01-20",
                            "--json")  # fmt: skip
    assert third.exit_code == 0, third.output
    assert [run["changes"] for run in json.loads(third.stdout)["reassessed"]] == [[]]
    assert len(decisions(town)) == count
