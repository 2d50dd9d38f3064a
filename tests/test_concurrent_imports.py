"""Two runs of the same import or batch at once: the second waits for the first's write lock
and then finds its work recorded; it neither fails with ``internal error`` (a unique key, or
SQLite's stale snapshot) nor records anything twice (two 還付 of one 過誤納金). Incomes and
grounds (所得, 軽減の事由), payments (収納), 本算定 (調定), refunds (充当・還付), §110-2 cases,
residents (住民基本台帳). The first run is a real process paused just before its COMMIT, so the
second is certain to have started while the first had not committed. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.premiums import (
    decide_refunds,
    import_payments,
    load_grounds,
    load_incomes,
    record_charges,
)
from kokuho.store import connect
from tests.busywait import short_busy_wait, sqlite_home, write_lock_held
from tests.premiumrows import CITY, assessment, payment, write_payments
from tests.test_premiums_grounds import J, K, grounds_town  # noqa: F401  (fixture)
from tests.test_premiums_grounds import write as write_grounds
from tests.test_premiums_households import households, town  # noqa: F401  (fixtures)
from tests.test_premiums_incomes import line, residents, write

_PAUSED_RUN = """
import datetime as dt
import sys
from pathlib import Path

import sqlalchemy as sa

from kokuho.store import connect

engine = connect(sys.argv[1])

paused = []

@sa.event.listens_for(engine, "commit")
def _before_commit(conn):
    # Everything is written and COMMIT is not sent yet: say so, and wait for the word. Only
    # the first commit (a boundary step's reservation; the later ones go on).
    if not paused:
        paused.append(True)
        print("written", flush=True)
        sys.stdin.readline()

exec(sys.argv[2])
print("done", flush=True)
"""


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(sa.select(sa.func.count()).select_from(sa.table(table))) or 0)


def second_run_while_first_commits(
    database_url: str, tmp_path: Path, first_code: str, second: Callable[[sa.Engine], Any]
) -> Any:
    """Runs ``first_code`` (Python with ``engine`` in scope) in a process paused before its
    COMMIT, runs ``second(engine)`` in a thread meanwhile, lets the first commit, and returns
    what the second returned (or raises what it raised)."""
    env = {**os.environ, "KOKUHO_HOME": str(tmp_path)}
    first = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_RUN, database_url, first_code],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=env,
    )  # fmt: skip
    engine = connect(database_url)
    found: dict[str, Any] = {}

    def run_second() -> None:
        try:
            found["result"] = second(engine)
        except Exception as error:  # noqa: BLE001  (the test asserts on it)
            found["error"] = error

    try:
        assert first.stdin is not None and first.stdout is not None
        said = first.stdout.readline().strip()
        assert said == "written", said + first.stdout.read()
        thread = threading.Thread(target=run_second)
        thread.start()
        # Long enough for the second run to read what is recorded and reach its first write.
        time.sleep(1.5)
        first.stdin.write("go\n")
        first.stdin.flush()
        assert first.stdout.readline().strip() == "done"
        assert first.wait(timeout=30) == 0
        thread.join(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        for pipe in (first.stdin, first.stdout):
            if pipe is not None:
                pipe.close()
        engine.dispose()
    if "error" in found:
        raise found["error"]
    return found["result"]


def test_two_income_imports_at_once_load_the_file_once(database_url: str, tmp_path: Path) -> None:
    engine = connect(database_url)
    residents(engine, 200)
    path = write(tmp_path / "fy2021.csv", [line(n) for n in range(1, 201)])
    code = f"from kokuho.premiums import load_incomes; load_incomes(engine, Path({str(path)!r}))"
    report = second_run_while_first_commits(
        database_url, tmp_path, code, lambda engine: load_incomes(engine, path)
    )
    assert report.skipped and report.inserted == 0 and report.fiscal_year == 2021
    assert _count(engine, "premium_incomes") == 200
    assert _count(engine, "premium_income_files") == 1
    engine.dispose()


def test_two_ground_imports_at_once_load_the_file_once(
    database_url: str,
    grounds_town: sa.Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    rows = [(K, "involuntary_unemployment", "2020-06-30", "11"),
            (J, "former_dependant", "2020-10-01", "")]  # fmt: skip
    path = write_grounds(tmp_path / "grounds.csv", rows)
    code = f"from kokuho.premiums import load_grounds; load_grounds(engine, Path({str(path)!r}))"
    report = second_run_while_first_commits(
        database_url, tmp_path, code, lambda engine: load_grounds(engine, path)
    )
    assert report.skipped and report.inserted == 0
    assert _count(grounds_town, "premium_ground_files") == 1
    assert _count(grounds_town, "premium_reduction_grounds") == 2


def test_an_import_waiting_too_long_for_the_write_lock_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: another command holds the write lock past the busy wait (shortened here from
    10 s): one line naming what was to be written, exit code 1, nothing written."""
    home = tmp_path / "home"
    engine = sqlite_home(home, monkeypatch)
    residents(engine, 3)
    engine.dispose()
    short_busy_wait(monkeypatch)
    path = write(tmp_path / "fy2021.csv", [line(n) for n in range(1, 4)])
    with write_lock_held(home / "kokuho.db"):
        result = CliRunner().invoke(main, ["premiums", "incomes", "import", str(path)])
    assert result.exit_code == 1
    assert "internal error" not in result.output
    assert "premium_incomes: another command is writing the database" in result.output
    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    assert _count(engine, "premium_income_files") == 0
    engine.dispose()


def _overpaid(engine: sa.Engine, tmp_path: Path) -> None:
    """Household D paid 10,000 for FY2020, then a 減額更正 to 4,000: 6,000 過誤納金."""
    record_charges(engine, assessment("D", 2020, [1_000] * 10), dt.date(2020, 6, 15), "initial")
    paid = [payment("D1", "D", 2020, "2020-07-31", 10_000)]
    import_payments(engine, write_payments(tmp_path / "d.csv", paid))
    record_charges(engine, assessment("D", 2020, [1_000] * 4 + [0] * 6), dt.date(2020, 10, 1),
                   "decrease")  # fmt: skip


def test_two_refund_decisions_at_once_settle_the_overpayment_once(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    """Found by running ``kokuho premiums refunds decide`` twice at once: on SQLite both
    settled the same 過誤納金 (two 還付 of 6,000 for one overpayment of 6,000)."""
    _overpaid(engine, tmp_path)
    code = (
        "from kokuho.premiums import decide_refunds; "
        f"decide_refunds(engine, {CITY!r}, dt.date(2020, 10, 2))"
    )
    settled = second_run_while_first_commits(
        database_url, tmp_path, code, lambda e: decide_refunds(e, CITY, dt.date(2020, 10, 2))
    )
    assert settled == []
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT household_id, kind, amount FROM premium_refunds"))
        assert [tuple(row) for row in rows] == [("D", "refund", 6_000)]


def test_two_payment_imports_at_once_load_the_payments_once(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    record_charges(engine, assessment("D", 2020, [1_000] * 10), dt.date(2020, 6, 15), "initial")
    paid = [payment(f"D{n}", "D", 2020, "2020-07-31", 1_000) for n in range(1, 6)]
    path = write_payments(tmp_path / "d.csv", paid)
    code = (
        f"from kokuho.premiums import import_payments; import_payments(engine, Path({str(path)!r}))"
    )
    report = second_run_while_first_commits(
        database_url, tmp_path, code, lambda e: import_payments(e, path)
    )
    assert (report.added, report.already_loaded) == (0, 5)
    assert _count(engine, "premium_payments") == 5


def test_two_assessments_at_once_record_the_charge_once(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    code = (
        "from tests.premiumrows import assessment; from kokuho.premiums import record_charges; "
        "record_charges(engine, assessment('D', 2020, [1_000] * 10), dt.date(2020, 6, 15), "
        "'initial')"
    )
    reports = second_run_while_first_commits(
        database_url, tmp_path, code,
        lambda e: record_charges(e, assessment("D", 2020, [1_000] * 10), dt.date(2020, 6, 15),
                                 "initial"),
    )  # fmt: skip
    assert _count(engine, "premium_charge_decisions") == 1
    assert reports


def test_two_case_scans_at_once_open_each_case_once(
    engine: sa.Engine, database_url: str, tmp_path: Path, mynumber_key: bytes
) -> None:
    """``kokuho boundary double-payments --scan`` twice at once: the second opened the same
    §110-2 case again and broke the unique key (internal error); now it finds it opened."""
    from kokuho.boundary import open_cases
    from tests.boundarycases import TOWN, Audit, build_town, enrol_employee

    build_town(engine, tmp_path, mynumber_key)
    enrol_employee(engine, tmp_path)
    code = (
        "from kokuho.boundary import open_cases; from tests.boundarycases import TOWN, Audit; "
        "assert len(open_cases(engine, TOWN, dt.date(2023, 5, 1), actor='a', audit=Audit())) == 1"
    )
    opened = second_run_while_first_commits(
        database_url, tmp_path, code,
        lambda e: open_cases(e, TOWN, dt.date(2023, 5, 1), actor="b", audit=Audit()),
    )  # fmt: skip
    assert opened == []
    assert _count(engine, "boundary_cases") == 1


def test_two_resident_loads_at_once_store_each_resident_once(
    database_url: str, tmp_path: Path, mynumber_key: bytes
) -> None:
    """``kokuho residents load`` twice at once: the second inserted the same residents again
    and broke the primary key (internal error); now it finds them stored."""
    from kokuho.ids import mynumber_check
    from kokuho.registry import load_residents
    from tests.feedfiles import write_csv

    columns = ["resident_id", "mynumber", "name_kanji", "name_kana", "birth_date", "sex",
               "address", "municipality_code"]  # fmt: skip
    rows = []
    for n in range(1, 21):
        body = f"{12345678000 + n:011d}"
        rows.append({"resident_id": f"{n:011d}", "mynumber": body + str(mynumber_check(body)),
                     "name_kanji": "讃岐 花子", "name_kana": "サヌキ ハナコ",
                     "birth_date": "2001-07-01", "sex": "2",
                     "address": f"香川県高松市番町四丁目1番{n}号",
                     "municipality_code": "372013"})  # fmt: skip
    path = write_csv(tmp_path / "residents.csv", columns, rows)
    code = (
        "from kokuho.registry import load_residents; "
        f"load_residents(engine, Path({str(path)!r}), bytes.fromhex({mynumber_key.hex()!r}))"
    )
    report = second_run_while_first_commits(
        database_url, tmp_path, code, lambda e: load_residents(e, path, mynumber_key)
    )
    assert report.inserted == 0
    engine = connect(database_url)
    assert _count(engine, "residents") == 20
    engine.dispose()


def test_two_judgements_of_a_case_at_once_record_one(
    engine: sa.Engine, database_url: str, tmp_path: Path, mynumber_key: bytes
) -> None:
    """``kokuho boundary decide CASE judge`` twice at once: both were recorded (two
    judgements in force, neither superseding the other). Now the second is refused."""
    from kokuho.boundary import CaseError, Evidence, judge, open_cases, record_loss
    from tests.boundarycases import (
        EMPLOYEE_ACQUIRED,
        EMPLOYEE_DECIDED,
        TOWN,
        Audit,
        build_town,
        enrol_employee,
    )

    build_town(engine, tmp_path, mynumber_key)
    enrol_employee(engine, tmp_path)
    [case] = open_cases(engine, TOWN, dt.date(2023, 5, 1), actor="a", audit=Audit())
    record_loss(engine, case.case_id, dt.date(2023, 5, 1), tmp_path / "feed", actor="a",
                audit=Audit())  # fmt: skip
    document = Evidence("資格決定通知書", EMPLOYEE_ACQUIRED, EMPLOYEE_DECIDED, "日本年金機構")
    code = (
        "import datetime; from kokuho.boundary import Evidence, judge; "
        "from tests.boundarycases import Audit; "
        f"judge(engine, {case.case_id}, dt.date(2023, 5, 10), no_fault=True, "
        f"evidence=Evidence('資格決定通知書', {EMPLOYEE_ACQUIRED!r}, {EMPLOYEE_DECIDED!r}, "
        "'日本年金機構'), actor='a', audit=Audit())"
    )
    with pytest.raises(CaseError, match=f"case {case.case_id} changed meanwhile"):
        second_run_while_first_commits(
            database_url, tmp_path, code,
            lambda e: judge(e, case.case_id, dt.date(2023, 5, 10), no_fault=True,
                            evidence=document, actor="b", audit=Audit()),
        )  # fmt: skip
    with engine.connect() as connection:
        steps = connection.execute(sa.text("SELECT step FROM boundary_case_steps")).scalars()
        assert sorted(steps) == ["judgement", "loss"]


def test_two_payments_of_one_refund_at_once_record_one(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    """``kokuho premiums refunds pay 1`` by two clerks at once, on two days: both were
    accepted and the second day overwrote the first. Now the second is refused."""
    from kokuho.premiums import RefundRefused, pay_refund

    _overpaid(engine, tmp_path)
    [refund] = decide_refunds(engine, CITY, dt.date(2020, 10, 2))
    code = (
        "from kokuho.premiums import pay_refund; "
        f"pay_refund(engine, {refund.refund_id}, dt.date(2020, 10, 10))"
    )
    with pytest.raises(RefundRefused, match=f"refund {refund.refund_id} was paid on 2020-10-10"):
        second_run_while_first_commits(
            database_url, tmp_path, code,
            lambda e: pay_refund(e, refund.refund_id, dt.date(2020, 10, 11)),
        )  # fmt: skip
    with engine.connect() as connection:
        paid = connection.scalar(sa.text("SELECT paid_on FROM premium_refunds"))
    assert str(paid) == "2020-10-10"
