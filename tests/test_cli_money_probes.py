"""Money read from the files NHI staff import, probed from the outside through ``kokuho``:
an amount is read from ASCII or full-width digits only (NFKC would turn a superscript, a
circled or a mathematical digit into yen), a zero-padded amount is its value, and a run of
digits past any amount is refused naming file, line and column, not an internal error. On
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from kokuho.cli import main
from kokuho.premiums import record_charges
from kokuho.store import connect
from tests.premiumrows import assessment, payment, write_payments
from tests.test_premiums_incomes import line, residents, stored, write

#: Text that Unicode NFKC turns into ASCII digits but that is no amount a clerk wrote:
#: superscripts, circled digits, mathematical bold digits.
NOT_DIGITS = ["²", "①⓪⓪", "𝟑𝟎𝟎", "1²"]


@pytest.fixture
def engine(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> sa.Engine:
    """The database the command line uses (``KOKUHO_DATABASE_URL``), migrated."""
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    monkeypatch.delenv("KOKUHO_DEBUG", raising=False)
    engine = connect(database_url)
    yield engine  # type: ignore[misc]
    engine.dispose()


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _paid(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("select count(*), coalesce(sum(amount), 0) from premium_payments")
        ).one()
    return int(row[0]), int(row[1])


@pytest.fixture
def charged(engine: sa.Engine) -> sa.Engine:
    record_charges(engine, assessment("H1", 2020, [9_500] * 10), dt.date(2020, 6, 15), "initial")
    return engine


@pytest.mark.parametrize("amount", NOT_DIGITS)
def test_a_payment_amount_of_no_digits_is_refused_naming_its_line(
    charged: sa.Engine, tmp_path: Path, amount: str
) -> None:
    path = write_payments(
        tmp_path / "収納 2020.csv",
        [payment("G1", "H1", 2020, "2020-07-31", 9_500, 1),
         payment("G2", "H1", 2020, "2020-08-31", amount, 2)],
    )  # fmt: skip
    result = _run("premiums", "payments", "import", str(path), "--json")
    assert result.exit_code == 1, result.output
    [error] = json.loads(result.stdout)["rejected"]["errors"]
    assert error.startswith(f"{path}:3: amount: ") and "whole number" in error, error
    assert _paid(charged) == (0, 0)


@pytest.mark.parametrize(("column", "value"), [("fiscal_year", "²⁰²⁰"), ("instalment", "①")])
def test_a_year_or_instalment_of_no_digits_is_refused(
    charged: sa.Engine, tmp_path: Path, column: str, value: str
) -> None:
    row = payment("G1", "H1", 2020, "2020-07-31", 9_500, 1)
    path = write_payments(tmp_path / "p.csv", [{**row, column: value}])
    result = _run("premiums", "payments", "import", str(path), "--json")
    assert result.exit_code == 1, result.output
    [error] = json.loads(result.stdout)["rejected"]["errors"]
    assert error.startswith(f"{path}:2: {column}: "), error
    assert _paid(charged) == (0, 0)


def test_full_width_and_zero_padded_amounts_are_read_as_their_value(
    charged: sa.Engine, tmp_path: Path
) -> None:
    # A channel's fixed-width export pads its amounts with zeros: 13 digits are 9,500 yen.
    path = write_payments(
        tmp_path / "p.csv",
        [payment("G1", "H1", 2020, "2020-07-31", "0000000009500", 1),
         payment("G2", "H1", 2020, "2020-08-31", "９５００", "２")],
    )  # fmt: skip
    result = _run("premiums", "payments", "import", str(path))
    assert result.exit_code == 0, result.output
    assert _paid(charged) == (2, 19_000)


@pytest.mark.parametrize("amount", ["1" + "0" * 12, "9" * 5000])
def test_a_payment_amount_past_twelve_digits_is_named_as_too_large(
    charged: sa.Engine, tmp_path: Path, amount: str
) -> None:
    path = write_payments(tmp_path / "p.csv", [payment("G1", "H1", 2020, "2020-07-31", amount)])
    result = _run("premiums", "payments", "import", str(path), "--json")
    assert result.exit_code == 1, result.output
    [error] = json.loads(result.stdout)["rejected"]["errors"]
    assert error == f"{path}:2: amount: is more than 999,999,999,999 yen"
    assert _paid(charged) == (0, 0)


@pytest.mark.parametrize("salary", NOT_DIGITS)
def test_an_income_of_no_digits_is_refused_naming_its_line(
    engine: sa.Engine, tmp_path: Path, salary: str
) -> None:
    residents(engine, 2)
    path = write(tmp_path / "所得.csv", [line(1), line(2, salary=salary)])
    result = _run("premiums", "incomes", "import", str(path), "--json")
    assert result.exit_code == 1, result.output
    [error] = json.loads(result.stdout)["files"][0]["errors"]
    assert (error["line"], error["field"]) == (3, "salary"), error
    assert "whole number" in error["reason"]
    assert stored(engine) == (0, 0)


def test_an_income_of_thousands_of_digits_is_refused_not_an_internal_error(
    engine: sa.Engine, tmp_path: Path
) -> None:
    residents(engine, 1)
    path = write(tmp_path / "i.csv", [line(1, other="9" * 5000)])
    result = _run("premiums", "incomes", "import", str(path), "--json")
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    [error] = json.loads(result.stdout)["files"][0]["errors"]
    assert (error["line"], error["field"]) == (2, "other"), error
    assert "more than" in error["reason"] and len(error["reason"]) < 200
    assert stored(engine) == (0, 0)


def test_a_zero_padded_income_is_its_value(engine: sa.Engine, tmp_path: Path) -> None:
    residents(engine, 1)
    path = write(tmp_path / "i.csv", [line(1, salary="0" * 20 + "1500000")])
    result = _run("premiums", "incomes", "import", str(path))
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        salary = connection.scalar(sa.text("select salary from premium_incomes"))
    assert salary == 1_500_000


@pytest.mark.parametrize("total", ["٣٠٠٠٠٠٠٠٠٠", "𝟏𝟎𝟎𝟎𝟎𝟎𝟎𝟎𝟎𝟎𝟎"])
def test_a_levy_total_in_other_digits_is_refused_naming_file_line_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, total: str
) -> None:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    example = Path(__file__).parents[1] / "src/kokuho/data/premiums/levy/example/inputs.yaml"
    text = example.read_text(encoding="utf-8")
    assert "  medical: 10_000_000_000\n" in text
    path = tmp_path / "levy inputs.yaml"
    path.write_text(text.replace("  medical: 10_000_000_000\n", f"  medical: {total}\n"), "utf-8")
    result = _run("premiums", "levy", "--fiscal-year", "2020", "--inputs", str(path))
    assert result.exit_code == 1, result.output
    assert f"{path}:6: totals.medical: {total!r} is not a number" in result.output


def test_a_levy_total_in_full_width_digits_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    example = Path(__file__).parents[1] / "src/kokuho/data/premiums/levy/example/inputs.yaml"
    text = example.read_text(encoding="utf-8")
    path = tmp_path / "levy.yaml"
    wide = "  medical: １００００００００００\n"
    path.write_text(text.replace("  medical: 10_000_000_000\n", wide), encoding="utf-8")
    given = _run("premiums", "levy", "--fiscal-year", "2020", "--inputs", str(path), "--json")
    shipped = _run("premiums", "levy", "--fiscal-year", "2020", "--example", "--json")
    assert given.exit_code == 0, given.output
    assert json.loads(given.stdout) == json.loads(shipped.stdout)


@pytest.mark.parametrize("paid_on", ["²⁰²⁰-07-31", "2020-0⑦-31"])
def test_a_day_of_payment_in_other_digits_is_refused(
    charged: sa.Engine, tmp_path: Path, paid_on: str
) -> None:
    path = write_payments(tmp_path / "p.csv", [payment("G1", "H1", 2020, paid_on, 9_500, 1)])
    result = _run("premiums", "payments", "import", str(path), "--json")
    assert result.exit_code == 1, result.output
    [error] = json.loads(result.stdout)["rejected"]["errors"]
    assert error.startswith(f"{path}:2: paid_on: must be a date"), error
    assert _paid(charged) == (0, 0)


def test_a_day_of_payment_in_full_width_digits_is_read(charged: sa.Engine, tmp_path: Path) -> None:
    path = write_payments(
        tmp_path / "p.csv", [payment("G1", "H1", 2020, "２０２０－０７－３１", 9_500)]
    )
    result = _run("premiums", "payments", "import", str(path))
    assert result.exit_code == 0, result.output
    assert _paid(charged) == (1, 9_500)


@pytest.mark.parametrize(
    ("date", "code", "field"),
    [("2021-06-30", "¹¹", "reason_code"), ("2021-06-30", "⑪", "reason_code"),
     ("²⁰²¹-06-30", "11", "date")],
)  # fmt: skip
def test_a_reduction_ground_in_other_digits_is_refused_naming_its_line(
    engine: sa.Engine, tmp_path: Path, date: str, code: str, field: str
) -> None:
    residents(engine, 1)
    path = tmp_path / "軽減 事由.csv"
    path.write_text(
        "resident_id,ground,date,reason_code\n"
        f"00000000001,involuntary_unemployment,2020-06-30,１１\n"
        f"00000000001,involuntary_unemployment,{date},{code}\n",
        encoding="utf-8",
    )
    result = _run("premiums", "grounds", "import", str(path), "--json")
    assert result.exit_code == 1, result.output
    [error] = json.loads(result.stdout)["files"][0]["errors"]
    assert (error["line"], error["field"]) == (3, field), error
    with engine.connect() as connection:
        assert connection.scalar(sa.text("select count(*) from premium_reduction_grounds")) == 0


def _settled(engine: sa.Engine) -> list[tuple[str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("select kind, amount from premium_refunds order by refund_id")
        ).all()
    return [(str(kind), int(amount)) for kind, amount in rows]


def _import_first_instalment_paid_twice(tmp_path: Path) -> None:
    """H1's FY2020 納期 1 paid by 口座振替 and again at a コンビニ (9,500 yen 過誤納), 2–10 once."""
    path = write_payments(
        tmp_path / "p.csv",
        [payment("G1", "H1", 2020, "2020-07-20", 9_500, 1, "account_transfer"),
         payment("C1", "H1", 2020, "2020-07-25", 9_500, 1, "convenience_store")]
        + [payment(f"G{n}", "H1", 2020, "2020-07-31", 9_500, n) for n in range(2, 11)],
    )  # fmt: skip
    assert _run("premiums", "payments", "import", str(path)).exit_code == 0


def test_a_refund_decision_dated_before_one_made_is_refused_not_paid_twice(
    charged: sa.Engine, tmp_path: Path
) -> None:
    """納期 1 paid twice (口座振替 and コンビニ): 9,500 yen of 過誤納金, refunded once. A second
    decision dated before the first (a clerk's backdated or mistyped day) saw the ledger of
    that day, without the later refund, and refunded the same 9,500 yen again."""
    _import_first_instalment_paid_twice(tmp_path)
    first = _run("premiums", "refunds", "decide", "--municipality", "372013", "--on", "2021-06-01")
    assert first.exit_code == 0, first.output
    assert _settled(charged) == [("refund", 9_500)]
    earlier = _run("premiums", "refunds", "decide", "--municipality", "372013",
                   "--on", "2021-05-01")  # fmt: skip
    assert earlier.exit_code == 1, earlier.output
    assert "settled on 2021-06-01" in earlier.output and "2021-05-01" in earlier.output
    assert _settled(charged) == [("refund", 9_500)]
    # The same day or a later one finds nothing left, as before.
    for day in ("2021-06-01", "2021-07-01"):
        again = _run("premiums", "refunds", "decide", "--municipality", "372013", "--on", day)
        assert again.exit_code == 0 and "0 decision(s)" in again.output, again.output
    assert _settled(charged) == [("refund", 9_500)]


def test_a_refund_decided_or_paid_on_a_day_to_come_is_refused(
    charged: sa.Engine, tmp_path: Path
) -> None:
    """A decision is recorded on or after the day it is made: ``refunds decide --on 2033-07-10``
    (2023 mistyped) was recorded, read the ledger of 2033 (instalments not yet due today counted
    as arrears to 充当), opened a claim window that starts in ten years, and barred every
    decision of the municipality before 2033 (decisions go in day order). ``refunds pay`` on a
    day to come recorded money not paid yet. Both are usage errors naming ``--on``."""
    _import_first_instalment_paid_twice(tmp_path)
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    ahead = _run("premiums", "refunds", "decide", "--municipality", "372013", "--on", tomorrow)
    assert ahead.exit_code == 2, ahead.output
    assert "--on" in ahead.output and tomorrow in ahead.output and "after today" in ahead.output
    assert _settled(charged) == []
    today = _run("premiums", "refunds", "decide", "--municipality", "372013", "--json")
    assert today.exit_code == 0, today.output
    [refund] = json.loads(today.output)["settlements"]
    assert (refund["kind"], refund["amount"]) == ("refund", 9_500)
    paid = _run("premiums", "refunds", "pay", str(refund["refund_id"]), "--on", tomorrow)
    assert paid.exit_code == 2 and "after today" in paid.output, paid.output
    with charged.connect() as connection:
        assert connection.scalar(sa.text("select paid_on from premium_refunds")) is None
    assert _run("premiums", "refunds", "pay", str(refund["refund_id"])).exit_code == 0
