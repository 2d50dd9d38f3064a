"""Collection (収納): 調定 history, allocation oldest first, 滞納 by age, 過誤納金 with 充当 and
還付, the two-year prescription, 現年分 → 滞納繰越分, on SQLite and PostgreSQL.

Every expected figure is worked out by hand in the comments from the rules in
docs/premiums-collection.md, not from the code.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.premiums import (
    ChargeRefused,
    RefundRefused,
    arrears,
    decide_refunds,
    import_payments,
    last_claim_day,
    pay_refund,
    record_charges,
    record_charges_many,
    settlements,
)
from tests.premiumrows import CITY, assessment, payment, write_payments

D = dt.date.fromisoformat
JUNE = D("2020-06-15")  # 本算定 of FY2020


def test_charges_keep_their_history_and_are_idempotent(engine: sa.Engine) -> None:
    first = record_charges(engine, assessment("H1", 2020, [6_000] * 10), JUNE, "initial")
    assert (first.previous_total, first.total, first.rows) == (0, 60_000, 10)
    again = record_charges(engine, assessment("H1", 2020, [6_000] * 10), JUNE, "initial")
    assert again.already_recorded and again.rows == 0

    # 減額更正: instalments 6–10 fall from 6,000 to 2,000 → five rows of −4,000, total 40,000.
    lower = assessment("H1", 2020, [6_000] * 5 + [2_000] * 5)
    cut = record_charges(engine, lower, D("2020-11-10"), "decrease")
    assert (cut.previous_total, cut.total, cut.rows) == (60_000, 40_000, 5)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "select instalment, amount from premium_charges where decided_on = :d "
                "order by instalment"
            ),
            {"d": D("2020-11-10")},
        ).all()
    assert [tuple(r) for r in rows] == [(n, -4_000) for n in range(6, 11)]
    # On 1 November the 調定 in force is still the June one (the 更正 adds, never rewrites).
    report = arrears(engine, CITY, D("2020-11-01"))
    assert [(a.instalment, a.charged) for a in report.arrears] == [(n, 6_000) for n in range(1, 5)]


@pytest.mark.parametrize(
    ("kind", "amounts", "day", "reason"),
    [
        ("initial", [6_000] * 10, "2020-07-01", "already has a decision"),
        ("increase", [5_000] * 10, "2020-07-01", "lowers it"),
        ("decrease", [7_000] * 10, "2020-07-01", "raises it"),
        ("increase", [7_000] * 10, "2020-06-01", "before the decision in force"),
        ("decrease", [5_000] * 10, "2020-06-15", "different initial decision"),
        ("bonus", [7_000] * 10, "2020-07-01", "kind must be one of"),
        ("increase", [7_000] * 9 + [-1], "2020-07-01", "amount ≥ 0"),
    ],
)
def test_a_wrong_decision_is_refused_and_writes_nothing(
    engine: sa.Engine, kind: str, amounts: list[int], day: str, reason: str
) -> None:
    record_charges(engine, assessment("H1", 2020, [6_000] * 10), JUNE, "initial")
    with pytest.raises(ChargeRefused, match=reason):
        record_charges(engine, assessment("H1", 2020, amounts), D(day), kind)  # type: ignore[arg-type]
    with engine.connect() as connection:
        count = connection.scalar(sa.text("select count(*) from premium_charges"))
        decisions = connection.scalar(sa.text("select count(*) from premium_charge_decisions"))
    assert (count, decisions) == (10, 1)


@pytest.mark.parametrize(
    ("household", "municipality", "reason"),
    [
        ("H 1", CITY, "世帯番号 'H 1': must be 1–20 letters or digits"),
        ("H" * 21, CITY, "1–20 letters or digits"),
        ("H-1", CITY, "1–20 letters or digits"),
        ("H_1", CITY, "1–20 letters or digits"),
        ("H\x001", CITY, "1–20 letters or digits"),
        ("Ｈ１", CITY, "'Ｈ１': not as the register stores it (H1)"),  # normalised before
        ("H1", "37201", "6-digit"),
    ],
)
def test_ids_the_register_could_not_hold_are_refused(
    engine: sa.Engine, household: str, municipality: str, reason: str
) -> None:
    with pytest.raises(ChargeRefused, match=re.escape(reason)):
        record_charges(
            engine, assessment(household, 2020, [1_000] * 10, municipality), JUNE, "initial"
        )


@pytest.mark.parametrize("household", ["1", "H" * 20])
def test_household_ids_at_the_bounds_are_recorded(engine: sa.Engine, household: str) -> None:
    report = record_charges(engine, assessment(household, 2020, [1_000] * 10), JUNE, "initial")
    assert (report.household_id, report.rows) == (household, 10)


def test_many_households_are_recorded_together_or_not_at_all(engine: sa.Engine) -> None:
    record_charges(engine, assessment("H1", 2020, [6_000] * 10), JUNE, "initial")
    batch = [assessment(f"H{n}", 2020, [1_000 * n] * 10) for n in (2, 3)]
    # H1 already has its initial decision of another amount: the whole batch is refused.
    with pytest.raises(ChargeRefused, match="household H1 FY2020: a different initial"):
        record_charges_many(engine, [*batch, assessment("H1", 2020, [1] * 10)], JUNE, "initial")
    with engine.connect() as connection:
        assert connection.scalar(sa.text("select count(*) from premium_charge_decisions")) == 1
    same = assessment("H1", 2020, [6_000] * 10)
    reports = record_charges_many(engine, [*batch, same], JUNE, "initial")
    assert [(r.household_id, r.total, r.rows, r.already_recorded) for r in reports] == [
        ("H2", 20_000, 10, False),
        ("H3", 30_000, 10, False),
        ("H1", 60_000, 0, True),
    ]
    with pytest.raises(ChargeRefused, match="appears twice"):
        record_charges_many(engine, [same, same], JUNE, "initial")


def test_an_update_needs_an_initial_decision(engine: sa.Engine) -> None:
    with pytest.raises(ChargeRefused, match="needs an initial decision"):
        record_charges(engine, assessment("H9", 2020, [1_000] * 10), JUNE, "increase")


def test_ten_instalments_paid_late_partly_and_twice(engine: sa.Engine, tmp_path: Path) -> None:
    # 95,000円 in ten 納期 of 9,500円, due at each month's end from July 2020.
    record_charges(engine, assessment("H1", 2020, [9_500] * 10), JUNE, "initial")
    rows = [
        payment("P1", "H1", 2020, "2020-07-31", 9_500, 1, "account_transfer"),  # on time
        payment("P2", "H1", 2020, "2020-09-10", 9_500),  # late: → 第2期 (due 8/31)
        payment("P3", "H1", 2020, "2020-10-05", 5_000),  # → 第3期, 4,500 still unpaid
        # 20,000 → 第3期 4,500, 第4期 9,500, 第5期 6,000 (oldest first)
        payment("P4", "H1", 2020, "2020-12-01", 20_000, "", "convenience_store"),
        payment("P5", "H1", 2020, "2020-12-01", 9_500, 4, "コンビニ"),  # 第4期 again: 過誤納
    ]
    import_payments(engine, write_payments(tmp_path / "p.csv", rows))

    # On 10 October: 第2期 paid late, 第3期 (due 9/30) 4,500 unpaid for 10 days.
    october = arrears(engine, CITY, D("2020-10-10"))
    assert [(a.instalment, a.outstanding, a.days_overdue) for a in october.arrears] == [
        (3, 4_500, 10)
    ]
    # On 15 December: 第5期 (due 11/30) has 6,000 of 9,500: 3,500 unpaid for 15 days, 現年分;
    # 第6期 (due 12/31) is not due yet.
    december = arrears(engine, CITY, D("2020-12-15"))
    assert [
        (a.instalment, a.outstanding, a.days_overdue, a.category) for a in december.arrears
    ] == [(5, 3_500, 15, "current")]
    assert (december.current, december.carried_over, december.households) == (3_500, 0, 1)

    # 過誤納金 9,500 (P5): 充当 3,500 to 第5期 first, 6,000 refunded.
    decided = decide_refunds(engine, CITY, D("2020-12-15"))
    assert [(s.kind, s.amount, s.target_instalment) for s in decided] == [
        ("appropriation", 3_500, 5),
        ("refund", 6_000, None),
    ]
    assert decided[1].last_claim_day == D("2022-12-15")
    assert arrears(engine, CITY, D("2020-12-15")).arrears == []
    assert decide_refunds(engine, CITY, D("2020-12-15")) == []  # nothing left to settle
    assert len(settlements(engine, CITY)) == 2


def test_a_decrease_after_payment_produces_a_refund(engine: sa.Engine, tmp_path: Path) -> None:
    record_charges(engine, assessment("H2", 2020, [6_000] * 10), JUNE, "initial")
    paid = [payment(f"Q{n}", "H2", 2020, "2020-07-20", 6_000, n) for n in range(1, 11)]
    import_payments(engine, write_payments(tmp_path / "p.csv", paid))
    assert decide_refunds(engine, CITY, D("2020-07-20")) == []  # 60,000 paid for 60,000

    # A retroactive loss: 減額更正 to 4,000 per 期 (40,000) on 10 May 2021, all already paid:
    # 20,000 過誤納金, no arrears to 充当 → a refund of 20,000.
    cut = record_charges(engine, assessment("H2", 2020, [4_000] * 10), D("2021-05-10"), "decrease")
    assert cut.total == 40_000
    [refund] = decide_refunds(engine, CITY, D("2021-05-10"))
    assert (refund.kind, refund.amount, refund.fiscal_year) == ("refund", 20_000, 2020)
    assert refund.status(D("2021-05-31")) == "open"
    with pytest.raises(RefundRefused, match="decided on 2021-05-10"):
        pay_refund(engine, refund.refund_id, D("2021-05-01"))
    assert pay_refund(engine, refund.refund_id, D("2021-06-01")).status(D("2021-06-01")) == "paid"
    with pytest.raises(RefundRefused, match="was paid on 2021-06-01"):
        pay_refund(engine, refund.refund_id, D("2021-06-02"))
    assert decide_refunds(engine, CITY, D("2021-07-01")) == []


def test_a_refund_not_claimed_within_two_years_lapses(engine: sa.Engine, tmp_path: Path) -> None:
    record_charges(engine, assessment("H3", 2020, [5_000] * 10), JUNE, "initial")
    rows = [
        payment("R1", "H3", 2020, "2020-07-10", 50_000),
        payment("R2", "H3", 2020, "2020-07-11", 1_000),
    ]
    import_payments(engine, write_payments(tmp_path / "p.csv", rows))
    [refund] = decide_refunds(engine, CITY, D("2021-05-10"))
    # Exercisable from 2021-05-10: the period starts 5/11 (民法 §140) and ends on 2023-05-10,
    # the day before the corresponding day 2023-05-11 (§143).
    assert (refund.amount, refund.last_claim_day) == (1_000, D("2023-05-10"))
    assert refund.status(D("2023-05-10")) == "open"
    assert refund.status(D("2023-05-11")) == "lapsed"
    with pytest.raises(RefundRefused, match="lapsed after 2023-05-10"):
        pay_refund(engine, refund.refund_id, D("2023-05-11"))


@pytest.mark.parametrize(
    ("exercisable", "last"),
    [
        ("2021-05-10", "2023-05-10"),
        ("2022-02-28", "2024-02-29"),  # starts 3/1/2022; day before 3/1/2024 (a leap year)
        ("2020-02-28", "2022-02-28"),  # starts 2/29/2020; no 2/29/2022: end of February
        ("2021-12-31", "2023-12-31"),
    ],
)
def test_the_two_year_period_is_counted_as_the_civil_code_counts(
    exercisable: str, last: str
) -> None:
    assert last_claim_day(D(exercisable)) == D(last)


def test_the_year_change_moves_arrears_to_carried_over(engine: sa.Engine, tmp_path: Path) -> None:
    record_charges(engine, assessment("H4", 2020, [3_000] * 10), JUNE, "initial")
    paid = [payment(f"S{n}", "H4", 2020, "2020-07-31", 3_000, n) for n in range(1, 10)]
    import_payments(engine, write_payments(tmp_path / "p.csv", paid))
    # 第10期 (due 2021-04-30) unpaid: 現年分 until 出納閉鎖 on 31 May 2021, then 滞納繰越分.
    may = arrears(engine, CITY, D("2021-05-31"))
    june = arrears(engine, CITY, D("2021-06-01"))
    assert (may.current, may.carried_over) == (3_000, 0)
    assert (june.current, june.carried_over) == (0, 3_000)
    assert june.arrears[0].days_overdue == 32  # 30 April → 1 June
    assert june.by_age == {"1-30": 0, "31-90": 3_000, "91-365": 0, "366+": 0}
    # Band edges: 30 May is 30 days after the 納期限 of 30 April, 31 May is 31 days.
    assert arrears(engine, CITY, D("2021-05-30")).by_age["1-30"] == 3_000
    assert may.by_age["31-90"] == 3_000


def test_an_overpayment_is_appropriated_to_an_older_years_arrears(
    engine: sa.Engine, tmp_path: Path
) -> None:
    record_charges(engine, assessment("H5", 2020, [2_000] * 10), JUNE, "initial")
    record_charges(engine, assessment("H5", 2021, [2_500] * 10), D("2021-06-15"), "initial")
    rows = [payment(f"T{n}", "H5", 2020, "2020-08-01", 2_000, n) for n in range(1, 9)]
    # FY2021 paid in full plus 5,000 too much; FY2020 第9・10期 (4,000) never paid.
    rows.append(payment("T99", "H5", 2021, "2021-07-01", 30_000))
    import_payments(engine, write_payments(tmp_path / "p.csv", rows))
    decided = decide_refunds(engine, CITY, D("2021-07-15"))
    assert [(s.kind, s.amount, s.target_fiscal_year, s.target_instalment) for s in decided] == [
        ("appropriation", 2_000, 2020, 9),
        ("appropriation", 2_000, 2020, 10),
        ("refund", 1_000, None, None),
    ]
    assert arrears(engine, CITY, D("2021-07-15")).arrears == []


def test_a_refunded_overpayment_does_not_pay_a_later_increase(
    engine: sa.Engine, tmp_path: Path
) -> None:
    record_charges(engine, assessment("H6", 2020, [5_000] * 10), JUNE, "initial")
    rows = [payment("U1", "H6", 2020, "2020-07-01", 51_000)]
    import_payments(engine, write_payments(tmp_path / "p.csv", rows))
    [refund] = decide_refunds(engine, CITY, D("2020-07-02"))  # 1,000 too much
    pay_refund(engine, refund.refund_id, D("2020-07-20"))
    # 増額更正 to 5,200 per 期 (52,000): 50,000 is what stayed paid, 2,000 is owed (第9・10期
    # take 1,000 each from the end), not 1,000 as if the refunded money still paid.
    up = assessment("H6", 2020, [5_200] * 10)
    record_charges(engine, up, D("2020-08-01"), "increase")
    owed = arrears(engine, CITY, D("2021-05-01"))
    assert sum(a.outstanding for a in owed.arrears) == 2_000
    assert decide_refunds(engine, CITY, D("2021-05-01")) == []
