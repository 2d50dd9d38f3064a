"""時効 of an instalment's 徴収権: when the period runs out, given its 納期限, the 督促 issued
for it and the payments that acknowledged it (承認), under the levy form's rule
(data/premiums/prescription.yaml, docs/premiums-collection.md "時効 and 不納欠損").

The period is counted as 民法 §140 and §143 count (``last_claim_day``): from the day after the
day it starts from, ending on the day before the corresponding day. An instalment's period
starts from its 納期限 (the right can be exercised once the 納期限 has passed); a renewal
(時効の更新) starts it again, from the day the rule names: the 督促状's 指定期限 (or its issue
day plus some days), or the day of a payment that left part of the instalment unpaid. A
renewal after the period has run out changes nothing (the right is extinguished: 地方自治法
§236(2), no 援用 needed), and with ``first_reminder_only`` only an instalment's first 督促
renews (a later one is a 催告).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from kokuho.premiums._periods import last_claim_day
from kokuho.premiums._prescription_rules import FormRule

RenewalKind = Literal["reminder", "payment"]


@dataclass(frozen=True, slots=True)
class Reminder:
    """A 督促 of one instalment: the day the 督促状 was issued and its 指定期限."""

    issued_on: dt.date
    deadline: dt.date


@dataclass(frozen=True, slots=True)
class Renewal:
    """One event that may renew the period: a 督促 or a payment (承認). ``counts_from``: the
    renewed period is counted from the day after it; ``effect``: what it did."""

    kind: RenewalKind
    occurred_on: dt.date
    counts_from: dt.date
    effective: bool
    effect: str


@dataclass(frozen=True, slots=True)
class Course:
    """The course of an instalment's 時効: its 納期限, the events considered, and the last day
    the 徴収権 can be exercised (``last_day``); prescribed from the day after it."""

    due: dt.date
    years: int
    renewals: tuple[Renewal, ...]
    last_day: dt.date

    @property
    def prescribed_on(self) -> dt.date:
        """The first day the right no longer exists (時効完成 at the end of ``last_day``)."""
        return self.last_day + dt.timedelta(days=1)

    def prescribed(self, as_of: dt.date) -> bool:
        return as_of > self.last_day


def earliest_end(due: dt.date, rule: FormRule) -> dt.date:
    """The last day of the period if nothing renews it: no course ends before it."""
    return last_claim_day(due, rule.collection_years)


def course(
    due: dt.date,
    reminders: Iterable[Reminder],
    payments: Iterable[dt.date],
    rule: FormRule,
) -> Course:
    """The course of the 時効 of an instalment due on ``due``, with the 督促 ``reminders`` and
    the days of ``payments`` that left part of it unpaid, under ``rule``."""
    years = rule.collection_years
    events: list[tuple[dt.date, int, RenewalKind, dt.date]] = [
        (r.issued_on, 0, "reminder", _reminder_counts_from(r, rule)) for r in reminders
    ] + [(day, 1, "payment", day) for day in payments]
    anchor = due
    last = last_claim_day(anchor, years)
    seen_reminder = False
    renewals: list[Renewal] = []
    for occurred, _, kind, counts_from in sorted(events):

        def note(effective: bool, effect: str) -> None:
            renewals.append(Renewal(kind, occurred, counts_from, effective, effect))  # noqa: B023

        first = not seen_reminder
        seen_reminder = seen_reminder or kind == "reminder"
        if occurred > last:
            note(False, f"時効完成 ({last + dt.timedelta(days=1)}) の後: 効力なし")
        elif kind == "reminder" and not rule.reminder_renews:
            note(False, "督促に時効更新の効力なし (規則ファイル)")
        elif kind == "reminder" and rule.first_reminder_only and not first:
            note(False, "2回目以降の督促: 催告 (時効の更新なし)")
        elif kind == "payment" and not rule.payment_acknowledges:
            note(False, "一部納付を承認としない (規則ファイル)")
        elif counts_from <= anchor:
            note(False, f"時効は {anchor} の翌日から進行中: 延長なし")
        else:
            anchor = counts_from
            last = last_claim_day(anchor, years)
            what = "督促" if kind == "reminder" else "一部納付 (債務の承認)"
            note(True, f"{what}により時効更新: {anchor + dt.timedelta(days=1)} から新たに進行")
    return Course(due, years, tuple(renewals), last)


def _reminder_counts_from(reminder: Reminder, rule: FormRule) -> dt.date:
    base = reminder.deadline if rule.reminder_anchor == "deadline" else reminder.issued_on
    return base + dt.timedelta(days=rule.reminder_days)
