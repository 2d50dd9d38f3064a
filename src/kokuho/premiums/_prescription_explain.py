"""Why each instalment of a household is or is not prescribed on a day: its 納期限, the day the
period is counted from, every 督促 and payment that renewed it or did not (and why), the last
day the 徴収権 can be exercised, and its 不納欠損 (docs/premiums-collection.md, "時効 and
不納欠損")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from kokuho.premiums._collection import InstalmentState, WriteOffEntry, ledgers
from kokuho.premiums._prescription import Reminder, Renewal
from kokuho.premiums._prescription_rules import FormRule, load_prescription_rules

Status = Literal["not_due", "paid", "running", "prescribed", "written_off"]
STATUS_NAMES: dict[Status, str] = {
    "not_due": "納期限前",
    "paid": "完納",
    "running": "時効未完成",
    "prescribed": "時効完成 (不納欠損 未処理)",
    "written_off": "不納欠損済",
}


class UnknownHousehold(ValueError):
    """No 調定 of the household in the municipality by the day asked."""


@dataclass(frozen=True, slots=True)
class InstalmentPrescription:
    """One instalment's 時効 on ``as_of`` with the dates it follows from."""

    fiscal_year: int
    instalment: int
    due: dt.date
    charged: int
    paid: int
    written_off: int
    outstanding: int
    counted_from: dt.date
    """The first day of the unrenewed period: the day after the 納期限."""
    reminders: tuple[Reminder, ...]
    renewals: tuple[Renewal, ...]
    last_day: dt.date
    """The last day the 徴収権 can be exercised (renewals included)."""
    prescribed_on: dt.date
    write_offs: tuple[WriteOffEntry, ...]
    status: Status
    reason: str


@dataclass(frozen=True, slots=True)
class HouseholdPrescription:
    municipality: str
    household_id: str
    as_of: dt.date
    form: str
    """国民健康保険料 or 国民健康保険税 (the rule file's form of the municipality)."""
    years: int
    """The period of 時効 of the 徴収権 in years."""
    instalments: list[InstalmentPrescription]


def explain_prescription(
    engine: sa.Engine, municipality: str, household_id: str, as_of: dt.date
) -> HouseholdPrescription:
    """The 時効 of every instalment of the household on ``as_of``, oldest 納期限 first.
    Raises UnknownHousehold when it has no 調定 by that day."""
    rule = load_prescription_rules().form_of(municipality)
    with engine.connect() as connection:
        found = ledgers(connection, as_of, municipality, [household_id])
    if not found:
        raise UnknownHousehold(f"household {household_id}: no 調定 in {municipality} by {as_of}")
    states = sorted(found[0].instalments, key=lambda i: (i.due, i.fiscal_year, i.number))
    rows = [_instalment(state, as_of, rule) for state in states]
    return HouseholdPrescription(
        municipality, household_id, as_of, rule.label, rule.collection_years, rows
    )


def _instalment(state: InstalmentState, as_of: dt.date, rule: FormRule) -> InstalmentPrescription:
    course = state.course(rule)
    written = tuple(w for w in state.write_offs if w.decided_on <= as_of)
    status: Status
    if written:
        status = "written_off"
        last = written[-1]
        reason = (
            f"{last.decided_on} 不納欠損 ({_ground_label(last.ground)}、{last.ground_day}): "
            f"{sum(w.amount for w in written):,}円"
        )
    elif state.outstanding <= 0:
        status, reason = "paid", "未納なし: 時効の対象となる債権はない"
    elif state.due >= as_of:
        status, reason = "not_due", f"納期限 {state.due} 前: 時効は進行していない"
    elif course.prescribed(as_of):
        status = "prescribed"
        reason = (
            f"{course.last_day} の経過により時効完成 ({course.prescribed_on} 徴収権消滅)。"
            "不納欠損の処理待ち"
        )
    else:
        status = "running"
        reason = f"{course.last_day} まで徴収可能 ({course.prescribed_on} に時効完成)"
    return InstalmentPrescription(
        state.fiscal_year,
        state.number,
        state.due,
        state.charged,
        state.paid,
        state.written_off,
        state.outstanding,
        state.due + dt.timedelta(days=1),
        tuple(sorted(state.reminders, key=lambda r: r.issued_on)),
        course.renewals,
        course.last_day,
        course.prescribed_on,
        written,
        status,
        reason,
    )


def _ground_label(ground: str) -> str:
    found = load_prescription_rules().grounds.get(ground)
    return found.label if found is not None else ground
