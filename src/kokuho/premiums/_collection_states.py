"""Each household-year's 調定額 in force, 未納額 and 不納欠損額 on a day, set-based: what 収納率
needs.

``ledgers`` allocates every credit to an instalment in Python, which the 滞納 report needs
(which 納期, how old). 収納率 needs only the year's totals, and for those the order of the
credits does not matter in the two shapes almost every household-year has (the allocation rule
of ``_collection``):

- **every credit names its 納期** (the 納付書 of that 期; every 充当 names one too): each 期
  takes what names it up to its 調定 in force, so paid = Σ per 期 min(named, max(調定, 0));
- **no credit names one**: oldest first fills the 期 in turn, so paid = min(credits,
  Σ max(調定, 0)).

Either way the rest is 過誤納; 過誤納金 already refunded or appropriated beyond what is left takes
paid money back (``_take_back``), so paid −= min(paid, settled − excess) when settled exceeds
the excess. Neither holds when an instalment's 徴収権 ended before a credit came (時効, or a
不納欠損: the credit is 過誤納 then, and paying order matters again): a household-year with a
不納欠損, or with a credit received after the earliest day one of its instalments could have
prescribed (its 納期限 plus the unrenewed period), is allocated by ``ledgers`` too.

SQL sums per 期 and per year (portable: no dialect functions); a household with a
year of both kinds of credit is allocated by ``ledgers`` itself, which gives exactly the
answer of the slow path (tests/test_premiums_collection_states.py compares the two on varied
ledgers).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from kokuho.premiums._charges import charges
from kokuho.premiums._collection import HouseholdLedger, ledgers, within
from kokuho.premiums._collection_tables import refunds, write_offs
from kokuho.premiums._payments import payments
from kokuho.premiums._prescription import earliest_end
from kokuho.premiums._prescription_rules import load_prescription_rules

Key = tuple[str, str, int]
"""Municipality, household, fiscal year."""
State = tuple[int, int, int]
"""調定額 in force, 未納額, 不納欠損額."""

# Households per statement of the exact path (bound parameters stay far under any limit).
_CHUNK = 500


def ledger_states(found: list[HouseholdLedger]) -> dict[Key, State]:
    """(調定額 in force, 未納額, 不納欠損額) per household-year of allocated ledgers."""
    states: dict[Key, State] = {}
    for ledger in found:
        for i in ledger.instalments:
            key = (ledger.municipality, ledger.household_id, i.fiscal_year)
            charged, owed, written = states.get(key, (0, 0, 0))
            states[key] = (charged + i.charged, owed + i.outstanding, written + i.written_off)
    return states


def year_states(
    connection: sa.Connection,
    as_of: dt.date,
    municipality: str | None = None,
    years: tuple[int | None, int | None] = (None, None),
) -> dict[Key, State]:
    """(調定額 in force, 未納額, 不納欠損額) per household-year on ``as_of`` (of the fiscal
    years from ``years[0]`` to ``years[1]``, None: unbounded), as ``ledger_states`` of
    ``ledgers`` gives them, without allocating credit by credit. Years are independent in the
    allocation (a credit pays its own year; a 充当 is a credit of the year it pays), so a range
    is exact."""
    rules = load_prescription_rules()
    states: dict[Key, State] = {}
    mixed: set[tuple[str, str]] = set()
    for row in connection.execute(_sums(as_of, municipality, years)):
        key: Key = (row[0], row[1], int(row[2]))
        total, positive, named_paid, credits, unnamed, named, unnamed_count, settled, rows = (
            int(v) for v in row[3:12]
        )  # PostgreSQL sums bigint as numeric
        written_rows, first_due, last_credit = int(row[12]), _day(row[13]), _day(row[14])
        if not rows:
            continue  # credits for a year without 調定: 過誤納, no state
        # A 期 may have ended before a credit came (a credit after the earliest day the
        # year's first 期 could prescribe, or a 不納欠損): then the order of the credits
        # matters, and the allocation decides.
        ended = written_rows or (
            last_credit is not None
            and first_due is not None
            and last_credit > earliest_end(first_due, rules.form_of(key[0]))
        )
        if (named and unnamed_count) or ended:
            mixed.add(key[:2])
            continue
        paid = named_paid if not unnamed_count else min(unnamed, positive)
        over_settled = settled - (credits - paid)
        if over_settled > 0:
            paid -= min(paid, over_settled)
        states[key] = (total, total - paid, 0)
    if mixed:
        for key in [k for k in states if k[:2] in mixed]:
            del states[key]
        states.update(_exact(connection, as_of, mixed, years))
    return states


def _day(value: Any) -> dt.date | None:
    """A day the database gives back (SQLite: text for an aggregate over a union)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _sums(
    as_of: dt.date, municipality: str | None, years: tuple[int | None, int | None]
) -> sa.Select[Any]:
    """One row per household-year: 調定 in force, its positive part, what credits naming a
    期 pay (each 期 up to its positive 調定), all credits, the unnamed ones, how many named
    and unnamed, 過誤納金 settled, the number of 調定 rows (0: no 調定 by ``as_of``), the
    number of 不納欠損, the earliest 納期限 and the latest day a credit came.

    One pass over a union of the five tables, summed per 期 and then per year: no join."""
    c, p, r, w = charges.c, payments.c, refunds.c, write_offs.c
    zero = sa.literal(0, sa.BigInteger)
    no_day = sa.null().cast(sa.Date)

    def row(
        table_c: Any,
        year: Any,
        instalment: Any,
        *,
        charged: Any = zero,
        named: Any = zero,
        unnamed: Any = zero,
        named_count: Any = zero,
        unnamed_count: Any = zero,
        settled: Any = zero,
        rows: Any = zero,
        written: Any = zero,
        due: Any = no_day,
        credit_day: Any = no_day,
    ) -> list[Any]:
        return [
            table_c.municipality.label("m"), table_c.household_id.label("h"),
            year.label("y"), instalment.label("k"), charged.label("charged"),
            named.label("named"), unnamed.label("unnamed"), named_count.label("named_count"),
            unnamed_count.label("unnamed_count"), settled.label("settled"), rows.label("rows"),
            written.label("written"), due.label("due"), credit_day.label("credit_day"),
        ]  # fmt: skip

    is_named = p.instalment.is_not(None)
    one = sa.literal(1, sa.BigInteger)
    null = sa.null().cast(sa.SmallInteger)
    stream = sa.union_all(
        sa.select(*row(c, c.fiscal_year, c.instalment, charged=c.amount, rows=one,
                       due=c.due_on))
        .where(c.decided_on <= as_of, *_only(c.municipality, municipality),
               *within(c.fiscal_year, years)),
        sa.select(*row(p, p.fiscal_year, p.instalment,
                       named=sa.case((is_named, p.amount), else_=0),
                       unnamed=sa.case((is_named, 0), else_=p.amount),
                       named_count=sa.case((is_named, 1), else_=0),
                       unnamed_count=sa.case((is_named, 0), else_=1),
                       credit_day=p.paid_on))
        .where(p.paid_on <= as_of, *_only(p.municipality, municipality),
               *within(p.fiscal_year, years)),
        # A 充当 always names the overdue 期 it pays.
        sa.select(*row(r, r.target_fiscal_year, r.target_instalment, named=r.amount,
                       named_count=one, credit_day=r.decided_on))
        .where(r.kind == "appropriation", r.decided_on <= as_of,
               *_only(r.municipality, municipality), *within(r.target_fiscal_year, years)),
        sa.select(*row(r, r.fiscal_year, null, settled=r.amount))
        .where(r.decided_on <= as_of, *_only(r.municipality, municipality),
               *within(r.fiscal_year, years)),
        sa.select(*row(w, w.fiscal_year, w.instalment, written=one))
        .where(w.decided_on <= as_of, *_only(w.municipality, municipality),
               *within(w.fiscal_year, years)),
    ).subquery()  # fmt: skip
    s = stream.c
    per = sa.select(
        s.m, s.h, s.y,
        sa.func.sum(s.charged).label("charged"), sa.func.sum(s.named).label("named"),
        sa.func.sum(s.unnamed).label("unnamed"),
        sa.func.sum(s.named_count).label("named_count"),
        sa.func.sum(s.unnamed_count).label("unnamed_count"),
        sa.func.sum(s.settled).label("settled"), sa.func.sum(s.rows).label("rows"),
        sa.func.sum(s.written).label("written"), sa.func.min(s.due).label("due"),
        sa.func.max(s.credit_day).label("credit_day"),
    ).group_by(s.m, s.h, s.y, s.k).subquery()  # fmt: skip
    i = per.c
    positive = sa.case((i.charged > 0, i.charged), else_=0)
    named_paid = sa.case((i.named < positive, i.named), else_=positive)
    return sa.select(
        i.m, i.h, i.y, sa.func.sum(i.charged), sa.func.sum(positive), sa.func.sum(named_paid),
        sa.func.sum(i.named + i.unnamed), sa.func.sum(i.unnamed), sa.func.sum(i.named_count),
        sa.func.sum(i.unnamed_count), sa.func.sum(i.settled), sa.func.sum(i.rows),
        sa.func.sum(i.written), sa.func.min(i.due), sa.func.max(i.credit_day),
    ).group_by(i.m, i.h, i.y)  # fmt: skip


def _only(column: sa.Column[str], municipality: str | None) -> list[sa.ColumnElement[bool]]:
    return [] if municipality is None else [column == municipality]


def _exact(
    connection: sa.Connection,
    as_of: dt.date,
    households: set[tuple[str, str]],
    years: tuple[int | None, int | None],
) -> dict[Key, State]:
    """The slow path's answer for ``households`` (municipality, household)."""
    by_municipality: dict[str, list[str]] = defaultdict(list)
    for municipality, household in sorted(households):
        by_municipality[municipality].append(household)
    found: dict[Key, State] = {}
    for municipality, ids in by_municipality.items():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            found.update(ledger_states(ledgers(connection, as_of, municipality, chunk, years)))
    return found
