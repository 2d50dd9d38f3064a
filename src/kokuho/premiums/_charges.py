"""調定 (charges): what each household owes per fiscal year and 納期, with its history.

The assessment writes here through :func:`record_charges`. A decision (本算定 or 更正) never
rewrites an earlier one: it adds one row per instalment whose amount changed, holding the
difference, so the 調定額 in force on any day is the sum of the rows decided by then and every
更正 stays visible (増額・減額賦課 with the date of the decision).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

import sqlalchemy as sa

from kokuho.ids import InvalidIdentifier, parse_household_id
from kokuho.premiums._model import Assessment
from kokuho.store import Fence, key_table, metadata, write_transaction

ChargeKind = Literal["initial", "increase", "decrease"]
"""本算定 (当初賦課), 増額賦課 (増額更正), 減額賦課 (減額更正)."""

CHARGE_KINDS: Final[tuple[ChargeKind, ...]] = get_args(ChargeKind)

charge_decisions = sa.Table(
    "premium_charge_decisions",
    metadata,
    sa.Column("decision_id", sa.Integer, primary_key=True),
    sa.Column("municipality", sa.String(6), nullable=False),
    sa.Column("household_id", sa.String(40), nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("decided_on", sa.Date, nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    # The premium for the year after this decision, and a digest of its 納期 schedule: a
    # second call with the same decision is recognised (idempotent) or refused (different).
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("schedule_sha256", sa.String(64), nullable=False),
    sa.UniqueConstraint("municipality", "household_id", "fiscal_year", "decided_on"),
)

charges = sa.Table(
    "premium_charges",
    metadata,
    sa.Column("charge_id", sa.Integer, primary_key=True),
    sa.Column(
        "decision_id",
        sa.Integer,
        sa.ForeignKey("premium_charge_decisions.decision_id"),
        nullable=False,
    ),
    sa.Column("municipality", sa.String(6), nullable=False),
    sa.Column("household_id", sa.String(40), nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("instalment", sa.SmallInteger, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    # The change of this instalment's 調定額 by the decision (negative for a 減額).
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("decided_on", sa.Date, nullable=False),
    sa.Index("ix_premium_charges_household", "municipality", "household_id", "fiscal_year"),
)


class ChargeRefused(ValueError):
    """A decision that cannot be recorded; nothing was written."""


@dataclass(frozen=True, slots=True)
class ChargeReport:
    """What :func:`record_charges` did: ``rows`` adjustment rows added (0 when the same
    decision was already recorded: ``already_recorded``), the total before and after."""

    household_id: str
    fiscal_year: int
    decided_on: dt.date
    kind: ChargeKind
    previous_total: int
    total: int
    rows: int
    already_recorded: bool


def _schedule_digest(assessment: Assessment) -> str:
    text = ";".join(f"{i.number},{i.due.isoformat()},{i.amount}" for i in assessment.instalments)
    return hashlib.sha256(text.encode()).hexdigest()


def record_charges(
    engine: sa.Engine, assessment: Assessment, decided_on: dt.date, kind: ChargeKind
) -> ChargeReport:
    """Records the 調定 of ``assessment`` decided on ``decided_on``.

    ``initial`` is the first decision for the household and year; ``increase``/``decrease``
    are 更正 whose instalment schedule replaces the one in force, and must raise/lower the
    year's total. Recording the same decision again changes nothing; a different one on the
    same day for the same household and year is refused (ChargeRefused), as is an 更正 dated
    before the decision in force.
    """
    return record_charges_many(engine, [assessment], decided_on, kind)[0]


def record_charges_many(
    engine: sa.Engine, assessments: Iterable[Assessment], decided_on: dt.date, kind: ChargeKind
) -> list[ChargeReport]:
    """:func:`record_charges` for many households decided together (本算定 of a whole
    municipality) in one transaction: one refused assessment and nothing is written."""
    return record_decisions(engine, [(list(assessments), kind)], decided_on)[0]


def record_decisions(
    engine: sa.Engine,
    batches: Sequence[tuple[Sequence[Assessment], ChargeKind]],
    decided_on: dt.date,
    *,
    fence: Fence | None = None,
) -> list[list[ChargeReport]]:
    """Several :func:`record_charges_many` of different kinds (an 更正 run: initial, increase
    and decrease) in one transaction: one refused assessment and nothing is written.
    ``fence`` runs first in that transaction (kokuho.store.Fence)."""
    for batch, kind in batches:
        if kind not in CHARGE_KINDS:
            raise ChargeRefused(f"kind must be one of {', '.join(CHARGE_KINDS)}, not {kind!r}")
        for assessment in batch:
            _check_schedule(assessment)
    keys = [(a.municipality, a.household_id, a.fiscal_year) for b, _ in batches for a in b]
    if len(set(keys)) != len(keys):
        raise ChargeRefused("a household and fiscal year appears twice in one decision")
    found: list[list[ChargeReport]] = []
    # The write lock before the 調定 in force is read: a second run of the same decision then
    # finds it recorded. (On SQLite the driver opens the transaction only at the first INSERT,
    # so the reads were outside it and the second run broke a unique key: internal error.)
    with write_transaction(engine, "premium_charges") as connection:
        if connection.dialect.name == "postgresql":
            # Two 更正 computed from the same 調定 in force would each add their difference to
            # it; no other writer of the table meanwhile.
            connection.execute(
                sa.text("LOCK TABLE premium_charge_decisions IN SHARE ROW EXCLUSIVE MODE")
            )
        if fence is not None:
            fence(connection)
        for batch, kind in batches:
            reports: list[ChargeReport] = []
            for start in range(0, len(batch), _CHUNK):
                part = batch[start : start + _CHUNK]
                part_keys = [(a.municipality, a.household_id, a.fiscal_year) for a in part]
                decisions, in_force = _existing(connection, part_keys)
                reports += _record(connection, part, decisions, in_force, decided_on, kind)
            found.append(reports)
    return found


#: Households per round trip: under every database's parameter limit.
_CHUNK: Final = 2000
_KEY_COLUMNS: Final[dict[str, sa.types.TypeEngine[Any]]] = {
    "municipality": sa.String(6),
    "household_id": sa.String(40),
    "fiscal_year": sa.Integer(),
}
_Key = tuple[str, str, int]
_InForce = dict[int, tuple[int, dt.date]]


def _existing(
    connection: sa.Connection, keys: Sequence[_Key]
) -> tuple[dict[_Key, list[sa.Row[tuple[object, ...]]]], dict[_Key, _InForce]]:
    """The decisions of ``keys`` (oldest first) and each one's instalments in force:
    number → (調定額, due date of the latest row)."""
    if len(keys) == 1:  # one household: a plain indexed lookup, no temporary table
        return existing_where(connection, lambda table: sa.and_(
            *(table.c[name] == value for name, value in zip(_KEY_COLUMNS, keys[0], strict=True))
        ))  # fmt: skip
    with key_table(connection, _KEY_COLUMNS, keys) as wanted:
        return existing_where(connection, lambda table: sa.and_(
            *(table.c[name] == wanted.c[name] for name in _KEY_COLUMNS)
        ), wanted)  # fmt: skip


def existing_where(
    connection: sa.Connection,
    condition: Callable[[sa.Table], sa.ColumnElement[bool]],
    wanted: sa.Table | None = None,
) -> tuple[dict[_Key, list[sa.Row[tuple[object, ...]]]], dict[_Key, _InForce]]:
    decisions: dict[_Key, list[sa.Row[tuple[object, ...]]]] = defaultdict(list)
    in_force: dict[_Key, _InForce] = defaultdict(dict)
    query = sa.select(charge_decisions)
    query = (
        query.join(wanted, condition(charge_decisions))
        if wanted is not None
        else query.where(condition(charge_decisions))
    )
    for row in connection.execute(query.order_by(charge_decisions.c.decided_on)):
        decisions[(row.municipality, row.household_id, row.fiscal_year)].append(row)
    rows = sa.select(
        charges.c.municipality,
        charges.c.household_id,
        charges.c.fiscal_year,
        charges.c.instalment,
        charges.c.amount,
        charges.c.due_on,
    )
    rows = (
        rows.join(wanted, condition(charges))
        if wanted is not None
        else rows.where(condition(charges))
    )
    for m, h, year, number, amount, due in connection.execute(rows.order_by(charges.c.charge_id)):
        found = in_force[(m, h, year)]
        found[number] = (found.get(number, (0, due))[0] + amount, due)
    return decisions, in_force


def _record(
    connection: sa.Connection,
    batch: Sequence[Assessment],
    decisions: dict[_Key, list[sa.Row[tuple[object, ...]]]],
    in_force: dict[_Key, _InForce],
    decided_on: dt.date,
    kind: ChargeKind,
) -> list[ChargeReport]:
    reports: dict[int, ChargeReport] = {}
    new: list[tuple[int, Assessment, dict[str, object], int, int]] = []
    for index, assessment in enumerate(batch):
        key = (assessment.municipality, assessment.household_id, assessment.fiscal_year)
        total = sum(i.amount for i in assessment.instalments)
        digest = _schedule_digest(assessment)
        earlier = decisions.get(key, [])
        same_day = [d for d in earlier if d.decided_on == decided_on]
        if same_day:
            d = same_day[0]
            if d.kind != kind or d.schedule_sha256 != digest:
                raise ChargeRefused(
                    f"household {key[1]} FY{key[2]}: a different {d.kind} decision is "
                    f"already recorded on {decided_on}"
                )
            before = [x.total for x in earlier if x.decided_on < decided_on]
            previous = int(before[-1]) if before else 0
            reports[index] = ChargeReport(*key[1:], decided_on, kind, previous, total, 0, True)
            continue
        previous = int(earlier[-1].total) if earlier else 0
        _check_kind(key, kind, earlier, decided_on, previous, total)
        values = {
            "municipality": key[0],
            "household_id": key[1],
            "fiscal_year": key[2],
            "decided_on": decided_on,
            "kind": kind,
            "total": total,
            "schedule_sha256": digest,
        }
        new.append((index, assessment, values, previous, total))
    if not new:
        return [reports[k] for k in sorted(reports)]
    ids = connection.execute(
        sa.insert(charge_decisions).returning(
            charge_decisions.c.decision_id, sort_by_parameter_order=True
        ),
        [values for _, _, values, _, _ in new],
    ).scalars()
    rows: list[dict[str, object]] = []
    for (index, assessment, _, previous, total), decision_id in zip(new, ids, strict=True):
        key = (assessment.municipality, assessment.household_id, assessment.fiscal_year)
        added = _adjustments(assessment, in_force.get(key, {}), decision_id, decided_on)
        rows += added
        reports[index] = ChargeReport(
            *key[1:], decided_on, kind, previous, total, len(added), False
        )
    if rows:
        connection.execute(sa.insert(charges), rows)
    return [reports[k] for k in sorted(reports)]


def _check_schedule(assessment: Assessment) -> None:
    if not (len(assessment.municipality) == 6 and assessment.municipality.isascii()
            and assessment.municipality.isdigit()):  # fmt: skip
        raise ChargeRefused(
            f"municipality {assessment.municipality!r} is not a 6-digit 全国地方公共団体コード"
        )
    # The 世帯番号 as the register stores it: no id the resident file could not hold, and
    # none in another form of one it holds (Ｗ１ for W1), which no payment would ever match.
    try:
        household = parse_household_id(assessment.household_id)
    except InvalidIdentifier as error:
        raise ChargeRefused(str(error)) from None
    if household != assessment.household_id:
        raise ChargeRefused(
            f"世帯番号 {assessment.household_id!r}: not as the register stores it ({household})"
        )
    numbers = [i.number for i in assessment.instalments]
    if len(set(numbers)) != len(numbers):
        raise ChargeRefused(f"household {assessment.household_id}: an instalment number repeats")
    for i in assessment.instalments:
        if i.number < 1 or i.amount < 0:
            raise ChargeRefused(
                f"household {assessment.household_id}: instalment {i.number} must have a "
                f"number ≥ 1 and an amount ≥ 0 (got {i.amount})"
            )


def _check_kind(
    key: tuple[str, str, int],
    kind: ChargeKind,
    decisions: Sequence[sa.Row[tuple[object, ...]]],
    decided_on: dt.date,
    previous: int,
    total: int,
) -> None:
    where = f"household {key[1]} FY{key[2]}"
    if kind == "initial" and decisions:
        raise ChargeRefused(f"{where}: already has a decision; record an increase or decrease")
    if kind != "initial" and not decisions:
        raise ChargeRefused(f"{where}: an 更正 ({kind}) needs an initial decision first")
    if decisions and decided_on < decisions[-1].decided_on:
        raise ChargeRefused(
            f"{where}: decided on {decided_on}, before the decision in force "
            f"({decisions[-1].decided_on})"
        )
    if kind == "increase" and total < previous:
        raise ChargeRefused(f"{where}: an increase from {previous} to {total} yen lowers it")
    if kind == "decrease" and total > previous:
        raise ChargeRefused(f"{where}: a decrease from {previous} to {total} yen raises it")


def _adjustments(
    assessment: Assessment,
    in_force: dict[int, tuple[int, dt.date]],
    decision_id: int,
    decided_on: dt.date,
) -> list[dict[str, object]]:
    base = {
        "decision_id": decision_id,
        "municipality": assessment.municipality,
        "household_id": assessment.household_id,
        "fiscal_year": assessment.fiscal_year,
        "decided_on": decided_on,
    }
    rows: list[dict[str, object]] = []
    new = {i.number: i for i in assessment.instalments}
    for number in sorted(set(new) | set(in_force)):
        old_amount, old_due = in_force.get(number, (0, None))
        instalment = new.get(number)
        amount = instalment.amount if instalment else 0
        due = instalment.due if instalment else old_due
        # A new 納期 gets its row even at 0 yen: the schedule and its due dates stay on record.
        if number not in in_force or amount != old_amount or due != old_due:
            row = {**base, "instalment": number, "due_on": due, "amount": amount - old_amount}
            rows.append(row)
    return rows


def charged_years(engine: sa.Engine) -> list[int]:
    """The fiscal years with any 調定 recorded, oldest first (what a report can be run for)."""
    year = charge_decisions.c.fiscal_year
    with engine.connect() as connection:
        found = connection.execute(sa.select(year).distinct().order_by(year)).scalars()
        return [int(value) for value in found]
