"""The payments file (docs/formats.md, "Premium payments"): every error names file, line and
field, a file with any error changes nothing, a file loaded again adds nothing."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.premiums import import_payments, record_charges
from kokuho.registry import FileRejected
from tests.killing import kill_when_said
from tests.premiumrows import CITY, PAYMENT_HEADER, assessment, payment, write_payments

GOOD = payment("G1", "H1", 2020, "2020-07-31", 9_500, 1, "account_transfer")


@pytest.fixture
def charged(engine: sa.Engine) -> sa.Engine:
    record_charges(engine, assessment("H1", 2020, [9_500] * 10), dt.date(2020, 6, 15), "initial")
    return engine


def _count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(sa.text("select count(*) from premium_payments")) or 0)


def test_a_file_loads_once(charged: sa.Engine, tmp_path: Path) -> None:
    rows = [GOOD, payment("G2", "H1", 2020, "2020-08-31", "12000", "", "窓口")]
    path = write_payments(tmp_path / "p.csv", rows)
    first = import_payments(charged, path)
    assert (first.rows, first.added, first.already_loaded, first.amount) == (2, 2, 0, 21_500)
    assert first.by_channel == {"account_transfer": 9_500, "counter": 12_000}
    second = import_payments(charged, path)
    assert (second.added, second.already_loaded, second.amount) == (0, 2, 0)
    assert _count(charged) == 2


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (payment("B1", "H404", 2020, "2020-07-31", 100), "household", "unknown household H404"),
        (payment("B1", "H1", 2019, "2020-07-31", 100), "fiscal_year", "no 調定 for FY2019"),
        (payment("B1", "H1", 2020, "2020-07-31", 100, 11), "instalment", "no 納期 11"),
        (payment("B1", "H1", 2020, "2020-07-31", -5), "amount", "greater than 0"),
        (payment("B1", "H1", 2020, "2020-07-31", 0), "amount", "greater than 0"),
        (payment("B1", "H1", 2020, "2020-07-31", "1.5"), "amount", "whole number"),
        (payment("B1", "H1", 2020, "2021-02-30", 100), "paid_on", "YYYY-MM-DD"),
        (payment("B1", "H1", 2020, "31/07/2020", 100), "paid_on", "YYYY-MM-DD"),
        (payment("B1", "H1", 2020, "2020-07-31", 100, 0), "instalment", "from 1 to 99"),
        (payment("B1", "H1", 2020, "2020-07-31", 100, "", "cash"), "channel", "one of"),
        (
            payment("B1", "H1", 2020, "2020-07-31", 100, municipality="3720"),
            "municipality",
            "6-digit",
        ),
        (payment("B1", "H1", 20, "2020-07-31", 100), "fiscal_year", "a year"),
        (payment("B 1", "H1", 2020, "2020-07-31", 100), "payment_id", "letters"),
        (payment("G1", "H1", 2020, "2020-08-01", 100), "payment_id", "repeats line 2"),
    ],
)
def test_a_bad_row_rejects_the_whole_file(
    charged: sa.Engine, tmp_path: Path, row: dict[str, object], field: str, reason: str
) -> None:
    path = write_payments(tmp_path / "p.csv", [GOOD, row])
    with pytest.raises(FileRejected) as caught:
        import_payments(charged, path)
    [error] = caught.value.errors
    assert (error.file, error.line, error.field) == (str(path), 3, field)
    assert reason in error.reason
    assert _count(charged) == 0


@pytest.mark.parametrize(
    ("paid_on", "accepted", "reason"),
    [
        ("2020-03-31", False, "before 年度 2020 began (2020-04-01)"),
        ("2020-04-01", True, ""),
        ("2021-05-31", True, ""),  # 出納整理期間
        ("2021-06-30", True, ""),  # today
        ("2021-07-01", False, "after today (2021-06-30)"),
        ("2099-06-30", False, "after today"),
        ("1900-01-01", False, "before 年度 2020"),
    ],
)
def test_the_day_of_payment_lies_between_the_year_s_start_and_today(
    charged: sa.Engine, tmp_path: Path, paid_on: str, accepted: bool, reason: str
) -> None:
    path = write_payments(tmp_path / "p.csv", [payment("D1", "H1", 2020, paid_on, 100)])
    today = dt.date(2021, 6, 30)
    if accepted:
        assert import_payments(charged, path, today=today).added == 1
        return
    with pytest.raises(FileRejected) as caught:
        import_payments(charged, path, today=today)
    [error] = caught.value.errors
    assert (error.line, error.field) == (2, "paid_on")
    assert reason in error.reason
    assert _count(charged) == 0


def test_an_amount_past_twelve_digits_is_named_as_too_large(
    charged: sa.Engine, tmp_path: Path
) -> None:
    path = write_payments(tmp_path / "p.csv", [payment("D1", "H1", 2020, "2020-07-31", "1" * 23)])
    with pytest.raises(FileRejected) as caught:
        import_payments(charged, path)
    [error] = caught.value.errors
    assert error.field == "amount" and "more than 999,999,999,999 yen" in error.reason


def test_an_id_loaded_before_with_other_values_is_refused(
    charged: sa.Engine, tmp_path: Path
) -> None:
    import_payments(charged, write_payments(tmp_path / "a.csv", [GOOD]))
    changed = {**GOOD, "amount": 9_000}
    other = payment("G3", "H1", 2020, "2020-08-31", 9_500, 2)
    with pytest.raises(FileRejected) as caught:
        import_payments(charged, write_payments(tmp_path / "b.csv", [other, changed]))
    assert [(e.line, e.field) for e in caught.value.errors] == [(3, "payment_id")]
    assert "loaded before with other values" in caught.value.errors[0].reason
    assert _count(charged) == 1


def test_nul_bytes_and_bad_headers_are_refused(charged: sa.Engine, tmp_path: Path) -> None:
    path = write_payments(tmp_path / "p.csv", [GOOD])
    path.write_text(path.read_text().replace("H1", "H\x001"), encoding="utf-8")
    with pytest.raises(FileRejected, match=r"p\.csv:2: household: contains a NUL byte"):
        import_payments(charged, path)
    header = ",".join(h for h in PAYMENT_HEADER if h != "amount") + ",amount_yen\n"
    bad = tmp_path / "h.csv"
    bad.write_text(header, encoding="utf-8")
    with pytest.raises(FileRejected) as caught:
        import_payments(charged, bad)
    assert {(e.line, e.field) for e in caught.value.errors} == {(1, "amount_yen"), (1, "amount")}
    assert _count(charged) == 0


def test_a_municipality_is_part_of_the_household_key(charged: sa.Engine, tmp_path: Path) -> None:
    other_city = payment("X1", "H1", 2020, "2020-07-31", 100, municipality="372021")
    assert CITY != "372021"
    with pytest.raises(FileRejected, match="unknown household H1 in 372021"):
        import_payments(charged, write_payments(tmp_path / "p.csv", [other_city]))


def test_full_width_digits_are_read_as_digits(charged: sa.Engine, tmp_path: Path) -> None:
    row = payment("Ｗ１", "H1", "２０２０", "２０２０－０７－３１", "９５００", "１", "ｺﾝﾋﾞﾆ")
    report = import_payments(charged, write_payments(tmp_path / "p.csv", [row]))
    assert (report.added, report.amount, report.by_channel) == (
        1,
        9_500,
        {"convenience_store": 9_500},
    )


@pytest.mark.parametrize("household", ["1", "H" * 20])
def test_household_ids_at_the_bounds_load(
    engine: sa.Engine, tmp_path: Path, household: str
) -> None:
    record_charges(engine, assessment(household, 2020, [100] * 10), dt.date(2020, 6, 15), "initial")
    row = payment("B1", household, 2020, "2020-07-31", 100)
    assert import_payments(engine, write_payments(tmp_path / "p.csv", [row])).added == 1


def test_a_full_width_household_id_names_the_household_the_register_stored(
    charged: sa.Engine, tmp_path: Path
) -> None:
    row = payment("B1", "Ｈ１", 2020, "2020-07-31", 100)
    assert import_payments(charged, write_payments(tmp_path / "p.csv", [row])).added == 1
    with charged.connect() as connection:
        stored = connection.scalar(sa.text("select household_id from premium_payments"))
    assert stored == "H1"


@pytest.mark.parametrize("household", ["H" * 21, "H-1", "H_1", "H.1", "世帯1"])
def test_a_household_id_the_register_cannot_hold_is_refused_as_such(
    charged: sa.Engine, tmp_path: Path, household: str
) -> None:
    """Not "unknown household … (no 調定)" later: the id is outside the one format (docs/
    formats.md, "世帯番号"), and the message does not repeat it (terminal safety)."""
    bad = payment("B1", household, 2020, "2020-07-31", 100)
    path = write_payments(tmp_path / "p.csv", [GOOD, bad])
    with pytest.raises(FileRejected) as caught:
        import_payments(charged, path)
    [error] = caught.value.errors
    assert (error.file, error.line, error.field) == (str(path), 3, "household")
    assert error.reason == "must be 1–20 letters or digits"
    assert _count(charged) == 0


_KILLED_IMPORT = """
import sys, time
import sqlalchemy as sa
from pathlib import Path
from kokuho.premiums import import_payments
from kokuho.store import connect

engine = connect(sys.argv[1])

@sa.event.listens_for(engine, "after_cursor_execute")
def _written(conn, cursor, statement, parameters, context, executemany):
    if statement.startswith("INSERT INTO premium_payments"):
        print("inserted", flush=True)  # rows written, transaction not committed yet
        time.sleep(60)

import_payments(engine, Path(sys.argv[2]))
"""


def test_an_import_killed_mid_transaction_leaves_nothing(
    charged: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    rows = [payment(f"K{n}", "H1", 2020, "2020-07-31", 100) for n in range(2_000)]
    path = write_payments(tmp_path / "p.csv", rows)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_IMPORT, database_url, str(path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    kill_when_said(child, "inserted")
    assert _count(charged) == 0
    assert import_payments(charged, path).added == 2_000  # and the file loads whole after
    assert _count(charged) == 2_000
