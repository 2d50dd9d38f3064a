"""The collection ledger (収納簿): charges (調定), payments (収納) and 過誤納金 decisions of each
household, allocated to instalments as of a day; 滞納 (arrears) by age, 現年分 and 滞納繰越分.

Allocation (docs/premiums-collection.md, a local choice): credits of a fiscal year are taken in
the order they were received (date, then id). A payment that names its 納期 pays that
instalment and what it cannot place there is 過誤納 (a second payment of the same 期, the
classic 重複納付); a payment without one pays the year's oldest unpaid instalments first
(oldest instalment first) and what is left is 過誤納. Allocation is always against the 調定 in
force on the day asked, so a 減額更正 after payment turns the paid excess into 過誤納金.

A fiscal year's unpaid 調定 is 現年分 until 出納閉鎖 on 31 May of the next year (地方自治法
§235-5: receipts of the 出納整理期間 still count for the year) and 滞納繰越分 from 1 June.

An instalment's 徴収権 ends when it prescribes (時効, ``_prescription``: counted from its
納期限, renewed by its first 督促 and by payments that leave part of it unpaid) or when a
不納欠損 on another ground is decided: from that day no credit can pay it (a prescribed debt
cannot be paid; the money is 過誤納, to be refunded), it is no longer 滞納, and what a
不納欠損 wrote off no longer counts as owed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import sqlalchemy as sa

from kokuho.premiums._charges import charges
from kokuho.premiums._collection_tables import refunds, reminders, write_offs
from kokuho.premiums._payments import payments
from kokuho.premiums._prescription import Course, Reminder, course, earliest_end
from kokuho.premiums._prescription_rules import FormRule, load_prescription_rules

ArrearsCategory = Literal["current", "carried_over"]
"""現年分 (the year's accounts are still open) and 滞納繰越分 (carried to a later year)."""

CATEGORY_NAMES: Final[dict[ArrearsCategory, str]] = {
    "current": "現年分",
    "carried_over": "滞納繰越分",
}


def accounts_close(fiscal_year: int) -> dt.date:
    """出納閉鎖: the last day receipts count for ``fiscal_year``'s accounts (地方自治法 §235-5)."""
    return dt.date(fiscal_year + 1, 5, 31)


def category(fiscal_year: int, as_of: dt.date) -> ArrearsCategory:
    """Whether an unpaid amount of ``fiscal_year`` is 現年分 or 滞納繰越分 on ``as_of``."""
    return "current" if as_of <= accounts_close(fiscal_year) else "carried_over"


@dataclass(frozen=True, slots=True)
class WriteOffEntry:
    """A 不納欠損 of an instalment: decided on, amount written off, ground and its day."""

    decided_on: dt.date
    amount: int
    ground: str
    ground_day: dt.date


@dataclass
class InstalmentState:
    """One 納期 of a household on the day asked: 調定額 in force, allocated 収納額, 不納欠損額,
    未納額, and what its 時効 depends on (督促, payments that acknowledged it)."""

    fiscal_year: int
    number: int
    due: dt.date
    charged: int
    paid: int = 0
    reminders: list[Reminder] = field(default_factory=list)
    #: Days of payments that paid part of it and left the rest unpaid (債務の承認).
    acknowledged: list[dt.date] = field(default_factory=list)
    write_offs: list[WriteOffEntry] = field(default_factory=list)
    #: (納期限, years) → the unrenewed period's last day: every credit asks (a cache).
    _earliest: tuple[dt.date, int, dt.date] | None = field(default=None, repr=False, compare=False)

    @property
    def written_off(self) -> int:
        """不納欠損額: what was written off, up to what is unpaid (a payment dated before the
        write-off but loaded after it, or a later 減額更正, leaves less to write off)."""
        recorded = sum(w.amount for w in self.write_offs)
        return min(recorded, max(self.charged - self.paid, 0))

    @property
    def outstanding(self) -> int:
        return self.charged - self.paid - self.written_off

    def course(self, rule: FormRule) -> Course:
        """The course of its 時効 under ``rule`` (the events recorded so far)."""
        return course(self.due, self.reminders, self.acknowledged, rule)

    def written_off_by(self, day: dt.date) -> bool:
        return any(w.decided_on <= day for w in self.write_offs)

    def prescribed(self, day: dt.date, rule: FormRule | None) -> bool:
        """Whether its 徴収権 has prescribed by ``day`` (False without a rule)."""
        if rule is None:
            return False
        known = self._earliest
        if known is None or known[:2] != (self.due, rule.collection_years):
            known = self._earliest = (self.due, rule.collection_years, earliest_end(self.due, rule))
        if day <= known[2]:
            return False  # no course ends before the unrenewed one
        return self.course(rule).prescribed(day)

    def extinct(self, day: dt.date, rule: FormRule | None) -> bool:
        """Whether nothing can pay it on ``day``: prescribed, or written off by then."""
        return bool(self.write_offs) and self.written_off_by(day) or self.prescribed(day, rule)


@dataclass(frozen=True, slots=True)
class Credit:
    """Money for a fiscal year: a payment, or a 充当 from another year's 過誤納金."""

    fiscal_year: int
    instalment: int | None
    received_on: dt.date
    order: str
    amount: int
    #: A payment by the household acknowledges the debt (承認); a 充当 is the municipality's.
    acknowledges: bool = True


@dataclass
class HouseholdLedger:
    """A household's instalments and, per fiscal year, its unsettled 過誤納金 on one day."""

    municipality: str
    household_id: str
    instalments: list[InstalmentState] = field(default_factory=list)
    overpaid: dict[int, int] = field(default_factory=dict)
    #: The 時効 rule of the municipality's levy form (None: nothing prescribes).
    rule: FormRule | None = None

    def overdue(self, as_of: dt.date) -> list[InstalmentState]:
        """滞納: instalments past their 納期限 with something unpaid and still collectable
        (neither prescribed nor written off), oldest first."""
        found = [
            i
            for i in self.instalments
            if i.due < as_of and i.outstanding > 0 and not i.extinct(as_of, self.rule)
        ]
        return sorted(found, key=lambda i: (i.due, i.fiscal_year, i.number))

    def prescribed(self, as_of: dt.date) -> list[InstalmentState]:
        """Instalments whose 徴収権 prescribed by ``as_of`` and that still show something
        unpaid: the 不納欠損 not made yet, oldest first."""
        found = [
            i for i in self.instalments if i.outstanding > 0 and i.prescribed(as_of, self.rule)
        ]
        return sorted(found, key=lambda i: (i.due, i.fiscal_year, i.number))


def allocate(
    ledger: HouseholdLedger, credits: Iterable[Credit], settled: dict[int, int]
) -> HouseholdLedger:
    """Allocates ``credits`` to ``ledger``'s instalments (the rule in the module docstring);
    ``settled`` is the 過誤納金 already refunded or appropriated, per fiscal year."""
    by_year: dict[int, list[InstalmentState]] = defaultdict(list)
    for instalment in sorted(ledger.instalments, key=lambda i: i.number):
        by_year[instalment.fiscal_year].append(instalment)
    excess: dict[int, int] = defaultdict(int)
    for credit in sorted(credits, key=lambda c: (c.received_on, c.order)):
        left = credit.amount
        schedule = by_year.get(credit.fiscal_year, [])
        targets = [i for i in schedule if credit.instalment in (None, i.number)]
        for instalment in targets:
            if left <= 0:
                break
            if instalment.extinct(credit.received_on, ledger.rule):
                continue  # a prescribed or written-off debt cannot be paid: 過誤納
            take = min(left, max(instalment.charged - instalment.paid, 0))
            instalment.paid += take
            left -= take
            if take and credit.acknowledges and instalment.charged > instalment.paid:
                instalment.acknowledged.append(credit.received_on)
        excess[credit.fiscal_year] += left
    for year in set(excess) | set(settled):
        unsettled = excess[year] - settled.get(year, 0)
        if unsettled > 0:
            ledger.overpaid[year] = unsettled
        elif unsettled < 0:
            # Money refunded or appropriated away that a later 増額更正 has since absorbed: it
            # no longer pays anything here, so the year's latest instalments take it back.
            _take_back(by_year.get(year, []), -unsettled)
    return ledger


def _take_back(schedule: list[InstalmentState], amount: int) -> None:
    for instalment in reversed(schedule):
        take = min(amount, instalment.paid)
        instalment.paid -= take
        amount -= take


def ledgers(
    connection: sa.Connection,
    as_of: dt.date,
    municipality: str | None = None,
    households: Sequence[str] | None = None,
    years: tuple[int | None, int | None] = (None, None),
) -> list[HouseholdLedger]:
    """Every household's ledger on ``as_of`` (one municipality or all; of the municipality,
    only ``households`` when given), by municipality and household: 調定 decided, payments
    received and 過誤納金 decisions made by that day. With ``years`` (first, last; None:
    unbounded) only those fiscal years' instalments are read, and allocated exactly: a
    credit pays only its own year."""
    if households is not None and municipality is None:
        raise ValueError("households are chosen within one municipality")
    found: dict[tuple[str, str], HouseholdLedger] = {}
    states: dict[tuple[str, str, int, int], InstalmentState] = {}
    where = [
        charges.c.decided_on <= as_of,
        *_chosen(charges, municipality, households),
        *within(charges.c.fiscal_year, years),
    ]
    query = sa.select(
        charges.c.municipality,
        charges.c.household_id,
        charges.c.fiscal_year,
        charges.c.instalment,
        charges.c.due_on,
        charges.c.amount,
    )
    rules = load_prescription_rules()
    for m, h, year, number, due, amount in connection.execute(
        query.where(*where).order_by(charges.c.charge_id)
    ):
        ledger = found.get((m, h))
        if ledger is None:
            ledger = found[(m, h)] = HouseholdLedger(m, h, rule=rules.form_of(m))
        state = states.get((m, h, year, number))
        if state is None:
            state = states[(m, h, year, number)] = InstalmentState(year, number, due, 0)
            ledger.instalments.append(state)
        state.charged += amount
        state.due = due  # the latest decision's 納期限
    _events(connection, as_of, municipality, households, years, states)
    credits: dict[tuple[str, str], list[Credit]] = defaultdict(list)
    settled: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for p in _payments(connection, as_of, municipality, households, years):
        credits[(p.municipality, p.household_id)].append(
            Credit(p.fiscal_year, p.instalment, p.paid_on, f"p:{p.payment_id}", p.amount)
        )
    for r in _settlements(connection, as_of, municipality, households, years):
        key = (r.municipality, r.household_id)
        settled[key][r.fiscal_year] += r.amount
        if r.kind == "appropriation":
            order = f"r:{r.refund_id:012d}"
            credits[key].append(
                Credit(
                    r.target_fiscal_year, r.target_instalment, r.decided_on, order, r.amount,
                    acknowledges=False,
                )
            )  # fmt: skip
    result = []
    for key in sorted(found):
        result.append(allocate(found[key], credits.get(key, []), settled.get(key, {})))
    return result


def _events(
    connection: sa.Connection,
    as_of: dt.date,
    municipality: str | None,
    households: Sequence[str] | None,
    years: tuple[int | None, int | None],
    states: dict[tuple[str, str, int, int], InstalmentState],
) -> None:
    """Adds to ``states`` the 督促 issued and the 不納欠損 decided by ``as_of``."""
    r, w = reminders.c, write_offs.c
    query = sa.select(r.municipality, r.household_id, r.fiscal_year, r.instalment,
                      r.issued_on, r.deadline).where(
        r.issued_on <= as_of, *_chosen(reminders, municipality, households),
        *within(r.fiscal_year, years),
    )  # fmt: skip
    for m, h, year, number, issued, deadline in connection.execute(query):
        state = states.get((m, h, year, number))
        if state is not None:
            state.reminders.append(Reminder(issued, deadline))
    decisions = sa.select(w.municipality, w.household_id, w.fiscal_year, w.instalment,
                          w.decided_on, w.amount, w.ground, w.ground_day).where(
        w.decided_on <= as_of, *_chosen(write_offs, municipality, households),
        *within(w.fiscal_year, years),
    ).order_by(w.write_off_id)  # fmt: skip
    for m, h, year, number, decided, amount, ground, day in connection.execute(decisions):
        state = states.get((m, h, year, number))
        if state is not None:
            state.write_offs.append(WriteOffEntry(decided, amount, ground, day))


def _chosen(
    table: sa.Table, municipality: str | None, households: Sequence[str] | None
) -> list[sa.ColumnElement[bool]]:
    where = [] if municipality is None else [table.c.municipality == municipality]
    if households is not None:
        where.append(table.c.household_id.in_(households))
    return where


def within(
    column: sa.Column[int], years: tuple[int | None, int | None]
) -> list[sa.ColumnElement[bool]]:
    """``column`` (a fiscal year) from ``years[0]`` to ``years[1]``, None: unbounded."""
    first, last = years
    return [
        *([] if first is None else [column >= first]),
        *([] if last is None else [column <= last]),
    ]


def _payments(
    connection: sa.Connection,
    as_of: dt.date,
    municipality: str | None,
    households: Sequence[str] | None,
    years: tuple[int | None, int | None],
) -> sa.CursorResult[tuple[object, ...]]:
    query = sa.select(payments).where(
        payments.c.paid_on <= as_of,
        *_chosen(payments, municipality, households),
        *within(payments.c.fiscal_year, years),
    )
    return connection.execute(query)


def _settlements(
    connection: sa.Connection,
    as_of: dt.date,
    municipality: str | None,
    households: Sequence[str] | None,
    years: tuple[int | None, int | None],
) -> sa.CursorResult[tuple[object, ...]]:
    query = sa.select(refunds).where(
        refunds.c.decided_on <= as_of, *_chosen(refunds, municipality, households)
    )
    if years != (None, None):
        # What settles a year's 過誤納金, and every 充当 that pays one of the years.
        query = query.where(
            sa.or_(
                sa.and_(*within(refunds.c.fiscal_year, years)),
                sa.and_(
                    refunds.c.kind == "appropriation",
                    *within(refunds.c.target_fiscal_year, years),
                ),
            )
        )
    return connection.execute(query.order_by(refunds.c.refund_id))


@dataclass(frozen=True, slots=True)
class Arrear:
    """One overdue instalment (滞納): its household, 納期, 未納額 and age in days."""

    municipality: str
    household_id: str
    fiscal_year: int
    instalment: int
    due: dt.date
    charged: int
    outstanding: int
    days_overdue: int
    category: ArrearsCategory


#: Age bands of 滞納 in days past the 納期限 (a local choice: a month, a quarter, a year).
AGE_BANDS: Final[tuple[tuple[str, int], ...]] = (
    ("1-30", 30),
    ("31-90", 90),
    ("91-365", 365),
    ("366+", 10**9),
)


def age_band(days_overdue: int) -> str:
    return next(label for label, upto in AGE_BANDS if days_overdue <= upto)


@dataclass(frozen=True, slots=True)
class ArrearsReport:
    """滞納 of a municipality on ``as_of``: every overdue instalment and the totals, by
    現年分 / 滞納繰越分 and by age band (``by_age``: band → 未納額). ``prescribed``: the
    instalments whose 徴収権 prescribed and that no 不納欠損 has written off yet (not 滞納:
    they cannot be collected), with their total."""

    municipality: str
    as_of: dt.date
    arrears: list[Arrear]
    households: int
    current: int
    carried_over: int
    by_age: dict[str, int]
    prescribed: list[Arrear] = field(default_factory=list)
    prescribed_total: int = 0


def _arrear(ledger: HouseholdLedger, i: InstalmentState, as_of: dt.date) -> Arrear:
    return Arrear(
        ledger.municipality,
        ledger.household_id,
        i.fiscal_year,
        i.number,
        i.due,
        i.charged,
        i.outstanding,
        (as_of - i.due).days,
        category(i.fiscal_year, as_of),
    )


def arrears(engine: sa.Engine, municipality: str, as_of: dt.date) -> ArrearsReport:
    """The municipality's 滞納 on ``as_of``: instalments past their 納期限 (due before
    ``as_of``), not fully paid and still collectable, oldest first per household, split
    現年分 / 滞納繰越分; apart, the prescribed ones awaiting their 不納欠損."""
    with engine.connect() as connection:
        found = ledgers(connection, as_of, municipality)
    rows = [_arrear(ledger, i, as_of) for ledger in found for i in ledger.overdue(as_of)]
    prescribed = [_arrear(ledger, i, as_of) for ledger in found for i in ledger.prescribed(as_of)]
    return ArrearsReport(
        municipality,
        as_of,
        rows,
        len({r.household_id for r in rows}),
        sum(r.outstanding for r in rows if r.category == "current"),
        sum(r.outstanding for r in rows if r.category == "carried_over"),
        {
            label: sum(r.outstanding for r in rows if age_band(r.days_overdue) == label)
            for label, _ in AGE_BANDS
        },
        prescribed,
        sum(r.outstanding for r in prescribed),
    )
