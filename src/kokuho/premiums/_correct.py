"""更正 (増額賦課・減額賦課): reassessing a household after a retroactive change, within the
period limit of 国保法 §110-2.

§110-2(1): no 賦課決定 on or after the day two years have passed counting from the day after the
year's first 納期 (or from the day the premium could first be levied, when that is later).
§110-2(2) (令和元年法律第9号) allows a *reducing* decision beyond that limit when reasons not
attributable to the insured require adjustment with employee insurance; issue 13 decides when.
``correct`` takes that decision as a ``PeriodLimitException`` and applies it to reductions only.

How the difference meets the 納期 (a rule of this module, documented in docs/premiums-rules.md):
an increase is spread over the 納期 still ahead of the decision (after ``decided_on``), floored
like 本算定 with the remainder on the first of them, or, when none is left, put on one new 納期
at the end of the month after the decision; a decrease is taken from the latest 納期 backwards,
none below zero, so past 納期 change only when the later ones cannot absorb it (what was paid on
them becomes 過誤納, refunded by collection).
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from kokuho.premiums._assess import assess, due_dates, split
from kokuho.premiums._model import Assessment, HouseholdInput, Instalment, Reason
from kokuho.premiums._rules import PremiumRules

CorrectionKind = Literal["increase", "decrease", "none"]
"""増額賦課, 減額賦課, or no change."""


@dataclass(frozen=True, slots=True)
class PeriodLimitException:
    """A §110-2(2) ground to make a reducing decision after the §110-2(1) limit.

    Issue 13 defines when one exists (資格決定通知書 with 資格取得日 long before 資格決定日, …);
    here it only carries what the record needs."""

    ground: str
    evidence: str
    decided: date | None = None


class PeriodLimitError(ValueError):
    """A 賦課決定 the period limit forbids (§110-2(1)); ``limit`` is the first day barred."""

    def __init__(self, reason: str, limit: date) -> None:
        self.reason = reason
        self.limit = limit
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class InstalmentChange:
    """One 納期 before and after the 更正 (``previous`` is 0 for a 納期 the 更正 adds)."""

    number: int
    due: date
    previous: int
    amount: int

    @property
    def difference(self) -> int:
        return self.amount - self.previous


@dataclass(frozen=True, slots=True)
class Correction:
    """The result of a 更正: the new assessment (its 納期 as corrected), per 納期 the change."""

    decided_on: date
    previous: Assessment
    assessment: Assessment
    changes: tuple[InstalmentChange, ...]
    kind: CorrectionKind
    exception: PeriodLimitException | None = None

    @property
    def difference(self) -> int:
        """増額 (> 0) or 減額 (< 0) of the year's premium."""
        return self.assessment.total - self.previous.total


def period_limit(rules: PremiumRules, leviable_from: date | None = None) -> date:
    """The first day on which no 賦課決定 for the year may be made (§110-2(1)).

    Counting starts the day after the year's first 納期, or on ``leviable_from`` (保険料を課する
    ことができることとなつた日) when that is later; two years after the start is barred."""
    start = due_dates(rules)[0] + timedelta(days=1)
    if leviable_from is not None and leviable_from > start:
        start = leviable_from
    try:
        return start.replace(year=start.year + 2)
    except ValueError:  # 29 February: the period ends with 28 February, the next day is barred
        return date(start.year + 2, 3, 1)


def correct(
    previous: Assessment,
    household: HouseholdInput,
    rules: PremiumRules,
    decided_on: date,
    *,
    leviable_from: date | None = None,
    exception: PeriodLimitException | None = None,
) -> Correction:
    """Reassesses ``household`` and returns the 増額/減額 per 納期, decided on ``decided_on``.

    Raises PeriodLimitError for a decision the §110-2(1) limit bars (a reducing one passes with
    a §110-2(2) ``exception``), ValueError when ``previous`` is another household's or year's.
    """
    if (previous.household_id, previous.fiscal_year) != (
        household.household_id,
        household.fiscal_year,
    ):
        raise ValueError(
            f"the previous assessment is of household {previous.household_id} "
            f"FY{previous.fiscal_year}, not {household.household_id} FY{household.fiscal_year}"
        )
    fresh = assess(household, rules)
    difference = fresh.total - previous.total
    kind: CorrectionKind = (
        "increase" if difference > 0 else "decrease" if difference < 0 else "none"
    )
    limit = period_limit(rules, leviable_from)
    used = None
    if kind != "none" and decided_on >= limit:
        name = "増額賦課" if kind == "increase" else "減額賦課"
        barred = (
            f"{name} of FY{household.fiscal_year} on {decided_on} is barred: 国保法 §110-2(1) "
            f"forbids a 賦課決定 from {limit} (2 years from the day after the first 納期)"
        )
        if kind == "increase" or exception is None:
            if kind == "increase" and exception is not None:
                barred += "; §110-2(2) allows reductions only"
            raise PeriodLimitError(barred, limit)
        used = exception
    amounts = _redistribute(previous.instalments, difference, decided_on, rules)
    old = {i.number: i.amount for i in previous.instalments}
    changes = tuple(
        InstalmentChange(i.number, i.due, old.get(i.number, 0), i.amount) for i in amounts
    )
    text = f"更正 ({decided_on}): {previous.total:,}円 → {fresh.total:,}円 ({difference:+,}円)"
    if used is not None:
        text += f"; 国保法 §110-2(2): {used.ground} ({used.evidence})"
    corrected = replace(
        fresh, instalments=amounts, reasons=(*fresh.reasons, Reason("更正 (国保法 §110-2)", text))
    )
    return Correction(decided_on, previous, corrected, changes, kind, used)


def _redistribute(
    old: tuple[Instalment, ...], difference: int, decided_on: date, rules: PremiumRules
) -> tuple[Instalment, ...]:
    amounts = [i.amount for i in old]
    if difference > 0:
        ahead = [k for k, i in enumerate(old) if i.due > decided_on]
        rounding = rules.municipal.rounding.instalment
        if not ahead:
            year, month = (decided_on.year + decided_on.month // 12, decided_on.month % 12 + 1)
            due = date(year, month, monthrange(year, month)[1])
            return (*old, Instalment(len(old) + 1, due, difference))
        shares = split(difference, len(ahead), rounding.unit, rounding.remainder == "first")
        for k, share in zip(ahead, shares, strict=True):
            amounts[k] += share
    else:
        left = -difference
        for k in reversed(range(len(old))):
            take = min(left, amounts[k])
            amounts[k] -= take
            left -= take
    return tuple(replace(i, amount=a) for i, a in zip(old, amounts, strict=True))
