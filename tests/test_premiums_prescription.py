"""時効 of the 徴収権 and 不納欠損 in the collection ledger, worked by hand with exact dates, on
SQLite and PostgreSQL (docs/premiums-collection.md, "時効 and 不納欠損").

The shipped rule file (data/premiums/prescription.yaml, every value unconfirmed) says, for
国民健康保険料: 2 years from the day after the 納期限 (民法 §140, §143: the period ends on the
day before the corresponding day); the first 督促 renews it from the day after its 指定期限; a
payment that leaves part of an instalment unpaid renews it from the day after the payment.

Every instalment below is FY2023 第1期, due 2023-07-31 (assessment() puts 納期 at month ends
from July), unless said otherwise.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.premiums import (
    RefundRefused,
    WriteOffRefused,
    arrears,
    course,
    decide_refunds,
    decide_write_off,
    explain_prescription,
    import_payments,
    import_reminders,
    list_write_offs,
    load_prescription_rules,
    pay_refund,
    record_charges,
    run_write_offs,
)
from kokuho.premiums._collection import ledgers
from kokuho.registry import FileRejected
from tests.premiumrows import (
    CITY,
    assessment,
    payment,
    reminder,
    write_payments,
    write_reminders,
)

D = dt.date.fromisoformat
JUNE = D("2023-06-15")  # 本算定 of FY2023
RULE = load_prescription_rules().form_of(CITY)


def _charge(engine: sa.Engine, household: str, amounts: list[int]) -> None:
    record_charges(engine, assessment(household, 2023, amounts), JUNE, "initial")


def _pay(engine: sa.Engine, tmp_path: Path, name: str, rows: list[dict[str, object]]) -> None:
    import_payments(engine, write_payments(tmp_path / f"{name}.csv", rows))


def _remind(engine: sa.Engine, tmp_path: Path, name: str, rows: list[dict[str, object]]) -> None:
    import_reminders(engine, write_reminders(tmp_path / f"{name}.csv", rows))


def _overdue(engine: sa.Engine, day: str) -> dict[tuple[str, int], int]:
    return {
        (a.household_id, a.instalment): a.outstanding for a in arrears(engine, CITY, D(day)).arrears
    }


def _prescribed(engine: sa.Engine, day: str) -> dict[tuple[str, int], int]:
    report = arrears(engine, CITY, D(day))
    return {(a.household_id, a.instalment): a.outstanding for a in report.prescribed}


# -- the period: pure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reminders", "payments", "last"),
    [
        # No 督促: counted from 2023-08-01, two years end on 2025-07-31.
        ([], [], "2025-07-31"),
        # 督促 issued 2023-08-20, 指定期限 2023-08-30: counted again from 2023-08-31.
        ([("2023-08-20", "2023-08-30")], [], "2025-08-30"),
        # A second 督促 is a 催告: no further renewal.
        ([("2023-08-20", "2023-08-30"), ("2024-08-20", "2024-08-30")], [], "2025-08-30"),
        # A 督促 issued after the period ran out (2025-08-01) renews nothing.
        ([("2025-08-01", "2025-08-11")], [], "2025-07-31"),
        # ... but one issued on the last day does (2025-07-31, 指定期限 2025-08-10).
        ([("2025-07-31", "2025-08-10")], [], "2027-08-10"),
        # A part payment on 2024-03-15 (承認): counted again from 2024-03-16.
        ([], ["2024-03-15"], "2026-03-15"),
        # A part payment before the 納期限 leaves the period where it was.
        ([], ["2023-07-20"], "2025-07-31"),
        # 督促 then part payment: the later renewal counts.
        ([("2023-08-20", "2023-08-30")], ["2025-08-30"], "2027-08-30"),
        # A part payment the day after the period ran out does not revive it.
        ([], ["2025-08-01"], "2025-07-31"),
    ],
)
def test_the_last_day_of_the_period(
    reminders: list[tuple[str, str]], payments: list[str], last: str
) -> None:
    from kokuho.premiums import Reminder

    found = course(
        D("2023-07-31"),
        [Reminder(D(i), D(d)) for i, d in reminders],
        [D(p) for p in payments],
        RULE,
    )
    assert found.last_day == D(last)
    assert found.prescribed_on == D(last) + dt.timedelta(days=1)
    assert not found.prescribed(D(last)) and found.prescribed(D(last) + dt.timedelta(days=1))


def test_a_period_from_29_february_ends_at_the_end_of_february() -> None:
    # 納期限 2024-02-28 → counted from 2024-02-29 → no 2026-02-29: ends 2026-02-28.
    assert course(D("2024-02-28"), [], [], RULE).last_day == D("2026-02-28")


# -- no 督促: prescribed at the end of 2025-07-31 -------------------------------------------------


def test_without_a_reminder_the_instalment_prescribes_at_the_end_of_2025_07_31(
    engine: sa.Engine,
) -> None:
    _charge(engine, "H1", [10_000])
    # The day before: still 滞納 (carried over), collectable, nothing to write off.
    assert _overdue(engine, "2025-07-31") == {("H1", 1): 10_000}
    assert _prescribed(engine, "2025-07-31") == {}
    assert run_write_offs(engine, CITY, D("2025-07-31")) == []
    # The day: no longer 滞納, prescribed and not yet written off.
    assert _overdue(engine, "2025-08-01") == {}
    assert _prescribed(engine, "2025-08-01") == {("H1", 1): 10_000}
    report = arrears(engine, CITY, D("2025-08-01"))
    assert (report.households, report.carried_over, report.prescribed_total) == (0, 0, 10_000)
    explained = explain_prescription(engine, CITY, "H1", D("2025-08-01")).instalments[0]
    assert (explained.status, explained.counted_from, explained.last_day) == (
        "prescribed",
        D("2023-08-01"),
        D("2025-07-31"),
    )
    # The write-off as of 2025-08-01: 10,000, ground 時効, the first day of prescription.
    [written] = run_write_offs(engine, CITY, D("2025-08-01"))
    assert (written.household_id, written.fiscal_year, written.instalment) == ("H1", 2023, 1)
    assert (written.amount, written.ground, written.ground_day) == (
        10_000,
        "prescription",
        D("2025-08-01"),
    )
    # Idempotent: the same day, or a later one with nothing newly prescribed, writes nothing.
    assert run_write_offs(engine, CITY, D("2025-08-01")) == []
    assert run_write_offs(engine, CITY, D("2026-03-31")) == []
    assert _prescribed(engine, "2026-03-31") == {} and _overdue(engine, "2026-03-31") == {}
    assert [w.write_off_id for w in list_write_offs(engine, CITY, D("2026-03-31"))] == [
        written.write_off_id
    ]
    assert list_write_offs(engine, CITY, D("2025-07-31")) == []
    state = explain_prescription(engine, CITY, "H1", D("2025-08-01")).instalments[0]
    assert (state.status, state.written_off, state.outstanding) == ("written_off", 10_000, 0)


# -- 督促 issued 2023-08-20, 指定期限 2023-08-30: renewed ----------------------------------------


def test_a_reminder_renews_the_period_from_the_day_after_its_deadline(
    engine: sa.Engine, tmp_path: Path
) -> None:
    _charge(engine, "H1", [10_000])
    _remind(engine, tmp_path, "r", [reminder("H1", 2023, 1, "2023-08-20", "2023-08-30")])
    # Where the unrenewed period would have ended, it still runs.
    assert _overdue(engine, "2025-08-01") == {("H1", 1): 10_000}
    assert _overdue(engine, "2025-08-30") == {("H1", 1): 10_000}
    assert run_write_offs(engine, CITY, D("2025-08-30")) == []
    assert _overdue(engine, "2025-08-31") == {}
    assert _prescribed(engine, "2025-08-31") == {("H1", 1): 10_000}
    explained = explain_prescription(engine, CITY, "H1", D("2025-08-30")).instalments[0]
    assert explained.status == "running" and explained.last_day == D("2025-08-30")
    [renewal] = explained.renewals
    assert (renewal.kind, renewal.occurred_on, renewal.counts_from, renewal.effective) == (
        "reminder",
        D("2023-08-20"),
        D("2023-08-30"),
        True,
    )
    [written] = run_write_offs(engine, CITY, D("2025-08-31"))
    assert (written.amount, written.ground_day) == (10_000, D("2025-08-31"))


def test_a_second_reminder_and_one_after_prescription_renew_nothing(
    engine: sa.Engine, tmp_path: Path
) -> None:
    _charge(engine, "H1", [10_000, 10_000])  # 第2期 due 2023-08-31
    _remind(
        engine,
        tmp_path,
        "r",
        [
            reminder("H1", 2023, 1, "2023-08-20", "2023-08-30"),
            reminder("H1", 2023, 1, "2024-08-20", "2024-08-30"),
            # 第2期 prescribed from 2025-09-01: a 督促 of 2025-09-01 comes too late.
            reminder("H1", 2023, 2, "2025-09-01", "2025-09-11"),
        ],
    )
    first, second = explain_prescription(engine, CITY, "H1", D("2025-09-01")).instalments
    assert [r.effective for r in first.renewals] == [True, False]
    assert "催告" in first.renewals[1].effect and first.last_day == D("2025-08-30")
    assert [r.effective for r in second.renewals] == [False]
    assert second.last_day == D("2025-08-31") and second.status == "prescribed"


def test_the_reminders_file_refuses_what_cannot_be_a_reminder(
    engine: sa.Engine, tmp_path: Path
) -> None:
    _charge(engine, "H1", [10_000])
    bad = [
        reminder("H1", 2023, 1, "2023-07-31", "2023-08-10"),  # on the 納期限: not after it
        reminder("H1", 2023, 1, "2023-08-20", "2023-08-19"),  # 指定期限 before the issue
        reminder("H1", 2023, 2, "2023-08-20", "2023-08-30"),  # no 第2期
        reminder("H9", 2023, 1, "2023-08-20", "2023-08-30"),  # no such household
    ]
    with pytest.raises(FileRejected) as rejected:
        _remind(engine, tmp_path, "bad", bad)
    reasons = sorted(f"{e.line}:{e.field}" for e in rejected.value.errors)
    assert reasons == ["2:issued_on", "3:deadline", "4:instalment", "5:instalment"]
    # The day after the 納期限 is a 督促; loading the file again adds nothing.
    good = [reminder("H1", 2023, 1, "2023-08-01", "2023-08-11")]
    assert import_reminders(engine, write_reminders(tmp_path / "g.csv", good)).added == 1
    again = import_reminders(engine, write_reminders(tmp_path / "g.csv", good))
    assert (again.added, again.already_loaded) == (0, 1)
    other = [reminder("H1", 2023, 1, "2023-08-01", "2023-08-12")]
    with pytest.raises(FileRejected, match="loaded before with the 指定期限 2023-08-11"):
        _remind(engine, tmp_path, "other", other)
    # Once written off, no 督促 of it is recorded (it would change why it was written off).
    run_write_offs(engine, CITY, D("2025-08-12"))
    late = [reminder("H1", 2023, 1, "2024-01-10", "2024-01-20")]
    with pytest.raises(FileRejected, match="written off"):
        _remind(engine, tmp_path, "late", late)


# -- partial payments ---------------------------------------------------------------------------


def test_a_part_payment_renews_the_rest_and_a_payment_after_prescription_is_refunded(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """P pays 4,000 of 10,000 on 2024-03-15: the 6,000 left prescribes at the end of
    2026-03-15. Q does the same and pays the 6,000 on 2026-03-15 (in time); R on 2026-03-16,
    the first day of prescription: that money pays nothing, it is 過誤納金, refunded."""
    for household in ("P", "Q", "R"):
        _charge(engine, household, [10_000])
    _pay(engine, tmp_path, "p", [
        payment("P1", "P", 2023, "2024-03-15", 4_000, 1),
        payment("Q1", "Q", 2023, "2024-03-15", 4_000, 1),
        payment("Q2", "Q", 2023, "2026-03-15", 6_000, 1),
        payment("R1", "R", 2023, "2024-03-15", 4_000, 1),
        payment("R2", "R", 2023, "2026-03-16", 6_000, 1),
    ])  # fmt: skip
    # 2025-07-31 would have been the end without the part payment: all three still owe.
    assert _overdue(engine, "2025-08-01") == {("P", 1): 6_000, ("Q", 1): 6_000, ("R", 1): 6_000}
    assert _overdue(engine, "2026-03-15") == {("P", 1): 6_000, ("R", 1): 6_000}
    assert _prescribed(engine, "2026-03-16") == {("P", 1): 6_000, ("R", 1): 6_000}
    with engine.connect() as connection:
        found = {x.household_id: x for x in ledgers(connection, D("2026-03-16"), CITY)}
    assert (found["Q"].instalments[0].paid, found["Q"].overpaid) == (10_000, {})
    # R's 6,000 of 2026-03-16 is not applied: 4,000 paid, 6,000 過誤納 of FY2023.
    assert (found["R"].instalments[0].paid, found["R"].overpaid) == (4_000, {2023: 6_000})
    written = run_write_offs(engine, CITY, D("2026-03-16"))
    assert sorted((w.household_id, w.amount, w.ground_day) for w in written) == [
        ("P", 6_000, D("2026-03-16")),
        ("R", 6_000, D("2026-03-16")),
    ]
    # Nothing left to 充当 to (R's only instalment is written off): a refund.
    [refund] = decide_refunds(engine, CITY, D("2026-03-16"))
    assert (refund.household_id, refund.kind, refund.amount) == ("R", "refund", 6_000)
    # The refund claim's own 時効 (§110(1)): two years from the decision, to 2028-03-16.
    assert refund.last_claim_day == D("2028-03-16")
    assert refund.status(D("2028-03-16")) == "open"
    assert refund.status(D("2028-03-17")) == "lapsed"
    with pytest.raises(RefundRefused, match="lapsed after 2028-03-16"):
        pay_refund(engine, refund.refund_id, D("2028-03-17"))
    assert pay_refund(engine, refund.refund_id, D("2028-03-16")).paid_on == D("2028-03-16")


def test_a_payment_without_a_period_skips_the_prescribed_instalment(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # 第1期 (2023-07-31) prescribed from 2025-08-01, 第2期 (2023-08-31) from 2025-09-01: a
    # payment naming no 期 on 2025-08-15 pays 第2期, the oldest it can still pay.
    _charge(engine, "U", [10_000, 10_000])
    _pay(engine, tmp_path, "u", [payment("U1", "U", 2023, "2025-08-15", 10_000)])
    with engine.connect() as connection:
        [ledger] = ledgers(connection, D("2025-08-15"), CITY)
    assert [(i.number, i.paid) for i in ledger.instalments] == [(1, 0), (2, 10_000)]
    assert ledger.overpaid == {}
    assert _prescribed(engine, "2025-08-15") == {("U", 1): 10_000}


# -- write-offs: order, atomicity, other grounds -----------------------------------------------


def test_write_offs_go_in_day_order_with_the_refunds(engine: sa.Engine, tmp_path: Path) -> None:
    _charge(engine, "H1", [10_000])
    _charge(engine, "H2", [10_000])
    _pay(engine, tmp_path, "p", [
        payment("A", "H2", 2023, "2023-07-31", 10_000, 1),
        payment("B", "H2", 2023, "2023-08-05", 10_000, 1),  # paid twice: 過誤納金
    ])  # fmt: skip
    decide_refunds(engine, CITY, D("2025-09-01"))
    with pytest.raises(WriteOffRefused, match="decided up to 2025-09-01"):
        run_write_offs(engine, CITY, D("2025-08-01"))
    assert list_write_offs(engine, CITY, D("2030-01-01")) == []
    run_write_offs(engine, CITY, D("2025-09-02"))
    with pytest.raises(RefundRefused, match="不納欠損 of 372013 was decided on 2025-09-02"):
        decide_refunds(engine, CITY, D("2025-09-01"))


def test_two_runs_at_once_write_off_once(engine: sa.Engine) -> None:
    for n in range(6):
        _charge(engine, f"H{n}", [1_000] * 10)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: run_write_offs(engine, CITY, D("2026-06-01")), range(2)))
    # Every 期 of FY2023 (due 2023-07-31 … 2024-04-30) prescribed by 2026-05-01: 60 of them.
    assert sorted(len(r) for r in runs) == [0, 60]
    assert sum(w.amount for w in list_write_offs(engine, CITY, D("2026-06-01"))) == 60_000


def test_a_stay_of_execution_writes_off_one_instalment_after_three_years(
    engine: sa.Engine,
) -> None:
    _charge(engine, "H1", [10_000, 10_000])
    # 執行停止 from 2023-09-10: three years run to 2026-09-10; the ground holds from 2026-09-11.
    # By then both 期 have prescribed (2025-08-01, 2025-09-01): a 期 with a 督促 is needed.
    with pytest.raises(WriteOffRefused, match="prescribed"):
        decide_write_off(engine, CITY, "H1", (2023, 1), "stay_three_years", D("2026-09-11"),
                         since=D("2023-09-10"))  # fmt: skip
    with pytest.raises(WriteOffRefused, match="holds from 2026-09-11"):
        decide_write_off(engine, CITY, "H1", (2023, 1), "stay_three_years", D("2026-09-10"),
                         since=D("2023-09-10"))  # fmt: skip
    with pytest.raises(WriteOffRefused, match="needs the day it began"):
        decide_write_off(engine, CITY, "H1", (2023, 1), "stay_three_years", D("2025-01-10"))
    with pytest.raises(WriteOffRefused, match="時効 is found by"):
        decide_write_off(engine, CITY, "H1", (2023, 1), "prescription", D("2025-01-10"))
    # 即時消滅: written off the day it is decided; a payment that day or later pays nothing.
    done = decide_write_off(engine, CITY, "H1", (2023, 2), "stay_immediate", D("2025-01-10"))
    assert (done.instalment, done.amount, done.ground_day) == (2, 10_000, D("2025-01-10"))
    assert _overdue(engine, "2025-01-10") == {("H1", 1): 10_000}
    with pytest.raises(WriteOffRefused, match="written off already"):
        decide_write_off(engine, CITY, "H1", (2023, 2), "stay_immediate", D("2025-01-11"))
