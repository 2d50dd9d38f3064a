"""賦課 of a municipality's fiscal year from the database: 本算定 (当初賦課) of every household,
更正 (増額・減額賦課) after retroactive changes, and one household's bill for the clerk.

Connects the households module (inputs from the register), the engine (``assess``,
``correct``) and the 調定 ledger (``record_decisions``); docs/premiums-assessment.md.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import sqlalchemy as sa

from kokuho.premiums._assess import AssessmentInputError, assess
from kokuho.premiums._assess_columnar import assess_table
from kokuho.premiums._assess_columnar_tables import ColumnarInputError, assessments_of
from kokuho.premiums._charges import (
    ChargeKind,
    ChargeRefused,
    charge_decisions,
    existing_where,
    record_decisions,
)
from kokuho.premiums._correct import (
    PeriodLimitError,
    PeriodLimitException,
    correct,
    period_limit,
)
from kokuho.premiums._households import NO_PERSON, household_inputs
from kokuho.premiums._households_columnar import read_households
from kokuho.premiums._households_unplaced import UnplacedMember, reasons, unplaced_members
from kokuho.premiums._incomes_check import check_incomes
from kokuho.premiums._model import (
    Assessment,
    HouseholdInput,
    Instalment,
    Member,
    PartAssessment,
    Reason,
)
from kokuho.premiums._rules import PremiumRules, load_premium_rules
from kokuho.store import Fence


@dataclass(frozen=True, slots=True)
class RefusedHousehold:
    """A household whose decision was not made, and why."""

    household_id: str
    reason: str


class _SameDay(ValueError):
    """An 更正 on or before the day of the decision in force."""


class AssessmentRefused(ValueError):
    """A 本算定 refused as a whole: ``refused`` names every household the engine refused."""

    def __init__(self, refused: Iterable[RefusedHousehold]) -> None:
        self.refused = tuple(refused)
        shown = "; ".join(f"{r.household_id}: {r.reason}" for r in self.refused)
        super().__init__(f"{len(self.refused)} household(s) refused, nothing recorded: {shown}")


def _reduction_counts(assessments: Iterable[Assessment]) -> dict[str, int]:
    counts = Counter(a.reduction or "none" for a in assessments)
    return {key: counts[key] for key in ("7", "5", "2", "none")}


@dataclass(frozen=True, slots=True)
class AssessmentRun:
    """What :func:`assess_fiscal_year` did: ``households`` assessed, ``recorded`` new 調定,
    ``already_recorded`` found from an earlier run, the year's total and 軽減 counts
    (keys "7", "5", "2", "none")."""

    municipality: str
    fiscal_year: int
    decided_on: dt.date
    households: int
    recorded: int
    already_recorded: int
    total: int
    reductions: dict[str, int]
    unplaced: tuple[UnplacedMember, ...] = ()
    """国保 members of the year in no household (so charged nothing), with the reason."""


@dataclass(frozen=True, slots=True)
class HouseholdChange:
    """One household's decision in a :func:`reassess` run: kind, the 調定 before and after."""

    household_id: str
    kind: ChargeKind
    previous_total: int
    total: int


@dataclass(frozen=True, slots=True)
class ReassessmentRun:
    """What :func:`reassess` did: ``changes`` recorded (initial for a household new to the
    year, increase, decrease), ``unchanged`` households, ``refused`` ones with the reason."""

    municipality: str
    fiscal_year: int
    decided_on: dt.date
    households: int
    unchanged: int
    changes: tuple[HouseholdChange, ...] = ()
    refused: tuple[RefusedHousehold, ...] = ()
    reductions: dict[str, int] = field(default_factory=dict)

    @property
    def difference(self) -> int:
        """The year's 調定 after the run minus before (増額 − 減額)."""
        return sum(c.total - c.previous_total for c in self.changes)


Progress = Callable[[str, int, int], None]
"""A progress callback: (stage, done, total); stages ``read`` (the register into columns),
``assess`` and ``record`` (households)."""


def assess_fiscal_year(
    engine: sa.Engine,
    municipality: str,
    fiscal_year: int,
    decided_on: dt.date,
    *,
    progress: Progress | None = None,
) -> AssessmentRun:
    """本算定 of every household of ``municipality`` for ``fiscal_year``, recorded as the
    initial 調定 decided on ``decided_on`` in one transaction.

    All or nothing: AssessmentRefused (nothing recorded) names every household the engine
    refuses; PeriodLimitError from the §110-2(1) limit on. ``unplaced`` lists the 国保
    members of the year found in no household (docs/premiums-households.md). Running again
    records nothing new (the same decision is recognised); a household already assessed on
    another day is refused by the ledger (ChargeRefused): use :func:`reassess` for changes.
    PremiumRuleError for missing or bad rule files.

    The inputs are read as columns (``household_columns``) and priced by ``assess_table``,
    which agree to the yen with ``household_inputs`` and ``assess`` (the reference, used
    instead to name the households refused, and for a register the columns cannot hold: a
    member away twice in the year). ``progress`` hears of each stage.
    """
    report = progress or (lambda stage, done, total: None)
    rules = load_premium_rules(fiscal_year, municipality)
    _check_limit(rules, decided_on, fiscal_year)
    report("read", 0, 1)
    try:
        members, households, unplaced_ids = read_households(engine, municipality, fiscal_year)
    except ColumnarInputError:
        # A member away twice in the year (the columns hold one gap): the reference path.
        assessments = _reference(engine, municipality, rules)
        check_incomes(engine, municipality, fiscal_year, len(assessments))
        unplaced = unplaced_members(engine, municipality, fiscal_year)
        report("read", 1, 1)
    else:
        count = households.num_rows
        check_incomes(engine, municipality, fiscal_year, count)
        report("read", 1, 1)
        report("assess", 0, count)
        try:
            result = assess_table(members, households, rules)
        except AssessmentInputError:
            assessments = _reference(engine, municipality, rules)
        else:
            assessments = assessments_of(result, rules)
        unplaced = reasons(engine, unplaced_ids.tolist())
    count = len(assessments)
    report("assess", count, count)
    report("record", 0, count)
    try:
        [reports] = record_decisions(engine, [(assessments, "initial")], decided_on)
    except ChargeRefused as refused:
        raise _recorded_before(engine, municipality, fiscal_year) or refused from refused
    report("record", count, count)
    again = sum(r.already_recorded for r in reports)
    return AssessmentRun(
        municipality,
        fiscal_year,
        decided_on,
        households=len(assessments),
        recorded=len(reports) - again,
        already_recorded=again,
        total=sum(a.total for a in assessments),
        reductions=_reduction_counts(assessments),
        unplaced=tuple(unplaced),
    )


def _recorded_before(
    engine: sa.Engine, municipality: str, fiscal_year: int
) -> ChargeRefused | None:
    """The refusal of a second 本算定 of the year, naming the one recorded (a clerk's second
    run, or two runs at once: the ledger refuses its first household, which says less)."""
    table = charge_decisions
    query = sa.select(
        sa.func.min(table.c.decided_on), sa.func.count(sa.distinct(table.c.household_id))
    ).where(
        table.c.municipality == municipality,
        table.c.fiscal_year == fiscal_year,
        table.c.kind == "initial",
    )
    with engine.connect() as connection:
        first, households = connection.execute(query).one()
    if not households:
        return None
    return ChargeRefused(
        f"{municipality} FY{fiscal_year}: a 本算定 is already recorded (decided on {first}, "
        f"{households} households), by an earlier or a simultaneous run; nothing was written. "
        "Changes since are recorded by `kokuho premiums reassess` (更正)."
    )


def _reference(engine: sa.Engine, municipality: str, rules: PremiumRules) -> list[Assessment]:
    """Every household assessed by the per-household reference (``household_inputs`` and
    ``assess``); AssessmentRefused naming every household the engine refuses."""
    assessments: list[Assessment] = []
    refused: list[RefusedHousehold] = []
    for household in household_inputs(engine, municipality, rules.fiscal_year):
        try:
            assessments.append(assess(household, rules, with_reasons=False))
        except AssessmentInputError as error:
            refused.append(RefusedHousehold(household.household_id, str(error)))
    if refused:
        raise AssessmentRefused(refused)
    return assessments


def _in_force(
    engine: sa.Engine, municipality: str, fiscal_year: int, household_id: str | None = None
) -> dict[str, tuple[Assessment, dt.date]]:
    """The 調定 in force per household of the year (or of the one household), as an Assessment
    whose 納期 are the ones in force (its parts are not stored: one figure carries the year's
    total), with the day of the latest decision."""

    def wanted(table: sa.Table) -> sa.ColumnElement[bool]:
        condition = sa.and_(
            table.c.municipality == municipality, table.c.fiscal_year == fiscal_year
        )
        return (
            condition
            if household_id is None
            else condition & (table.c.household_id == household_id)
        )

    with engine.connect() as connection:
        decisions, in_force = existing_where(connection, wanted)
    found: dict[str, tuple[Assessment, dt.date]] = {}
    for (_, household_id, _), rows in decisions.items():
        schedule = in_force.get((municipality, household_id, fiscal_year), {})
        instalments = tuple(
            Instalment(number, due, amount) for number, (amount, due) in sorted(schedule.items())
        )
        total = sum(i.amount for i in instalments)
        reason = Reason("調定 in force", f"{total:,}円 as decided on {rows[-1].decided_on}")
        part = PartAssessment("medical", 0, 0, 0, 0, False, total, (reason,))
        previous = Assessment(household_id, municipality, fiscal_year, (part,), None, instalments)
        found[household_id] = (previous, rows[-1].decided_on)
    return found


def _gone(household_id: str, municipality: str, fiscal_year: int) -> HouseholdInput:
    """A household with a 調定 but no 国保 member left in the year (every member lost from
    before 4月1日): assessed with nobody covered, its premium is 0."""
    head = Member(NO_PERSON, dt.date(1900, 1, 1), None, None)
    return HouseholdInput(household_id, municipality, fiscal_year, NO_PERSON, (head,))


def reassess(
    engine: sa.Engine,
    municipality: str,
    fiscal_year: int,
    decided_on: dt.date,
    *,
    exception: PeriodLimitException | None = None,
    household_id: str | None = None,
    fence: Fence | None = None,
) -> ReassessmentRun:
    """更正 of every household of the year against the 調定 in force, decided on
    ``decided_on``: 増額/減額 through ``correct``, an initial 調定 for a household new to the
    year, a household whose members all left reduced to 0.

    Each household's decision is independent: one the §110-2(1) period limit bars (or that
    the engine refuses) is listed in ``refused`` with the reason and the others are recorded,
    all in one transaction. ``exception`` (§110-2(2)) lets reductions pass the limit.
    Running again the same day records nothing new. ``household_id`` limits the run to that
    household (a §110-2(2) exception is one household's, never the whole year's).
    ``fence`` runs first in the transaction that records (kokuho.store.Fence), even when
    nothing changed.
    """
    rules = load_premium_rules(fiscal_year, municipality)
    for _ in range(_ATTEMPTS):
        # The decisions are computed outside the write lock (the register's read is long) and
        # recorded under it only if no other run recorded a decision of the year meanwhile
        # (`kokuho premiums reassess` beside the 更正 of a `kokuho registry import`): else
        # they were computed from a 調定 no longer in force, and are computed again.
        mark = _decisions_mark(engine, municipality, fiscal_year, household_id)
        run, batches = _reassessed(
            engine, rules, municipality, fiscal_year, decided_on, exception, household_id
        )

        def unchanged_since(connection: sa.Connection, mark: _Mark = mark) -> None:
            now = _decisions_mark(connection, municipality, fiscal_year, household_id)
            if now != mark:
                raise _Overtaken
            if fence is not None:
                fence(connection)

        try:
            record_decisions(
                engine,
                [(batch, kind) for kind, batch in batches.items()],
                decided_on,
                fence=unchanged_since,
            )
        except _Overtaken:
            continue
        return run
    of = f"household {household_id} of " if household_id is not None else ""
    raise ChargeRefused(
        f"{of}{municipality} FY{fiscal_year}: other runs recorded 調定 while this 更正 was "
        f"computed, {_ATTEMPTS} times; nothing was written, run it again"
    )


#: Times a 更正 is computed again when another run recorded a decision of its year meanwhile.
_ATTEMPTS = 5
_Mark = tuple[int, int]


class _Overtaken(Exception):
    """Another run recorded a decision of the year after this one read the 調定 in force."""


def _decisions_mark(
    source: sa.Engine | sa.Connection,
    municipality: str,
    fiscal_year: int,
    household_id: str | None,
) -> _Mark:
    """The count and the last id of the year's decisions (of the one household): it changes
    whenever a decision is recorded (decisions are never deleted)."""
    table = charge_decisions
    query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(table.c.decision_id), 0))
    query = query.where(table.c.municipality == municipality, table.c.fiscal_year == fiscal_year)
    if household_id is not None:
        query = query.where(table.c.household_id == household_id)
    if isinstance(source, sa.Connection):
        count, last = source.execute(query).one()
    else:
        with source.connect() as connection:
            count, last = connection.execute(query).one()
    return int(count), int(last)


def _reassessed(
    engine: sa.Engine,
    rules: PremiumRules,
    municipality: str,
    fiscal_year: int,
    decided_on: dt.date,
    exception: PeriodLimitException | None,
    household_id: str | None,
) -> tuple[ReassessmentRun, dict[ChargeKind, list[Assessment]]]:
    """The run :func:`reassess` reports and the decisions it records, by kind, computed from
    the 調定 in force and the register as they are now."""
    previous = _in_force(engine, municipality, fiscal_year, household_id)
    batches: dict[ChargeKind, list[Assessment]] = {"initial": [], "increase": [], "decrease": []}
    changes: list[HouseholdChange] = []
    refused: list[RefusedHousehold] = []
    fresh: list[Assessment] = []
    unchanged = 0
    inputs = [
        h for h in household_inputs(engine, municipality, fiscal_year)
        if household_id is None or h.household_id == household_id
    ]  # fmt: skip
    seen = {h.household_id for h in inputs}
    inputs += [_gone(h, municipality, fiscal_year) for h in sorted(set(previous) - seen)]
    for household in inputs:
        try:
            decision = _decide(household, previous.get(household.household_id), rules, decided_on,
                               exception)  # fmt: skip
        except (AssessmentInputError, PeriodLimitError, _SameDay) as error:
            refused.append(RefusedHousehold(household.household_id, str(error)))
            continue
        if household.household_id in seen:
            fresh.append(decision[0])
        assessment, kind, before = decision
        if kind is None:
            unchanged += 1
            continue
        batches[kind].append(assessment)
        changes.append(HouseholdChange(household.household_id, kind, before, assessment.total))
    run = ReassessmentRun(
        municipality,
        fiscal_year,
        decided_on,
        households=len(inputs),
        unchanged=unchanged,
        changes=tuple(changes),
        refused=tuple(refused),
        reductions=_reduction_counts(fresh),
    )
    return run, batches


def _decide(
    household: HouseholdInput,
    previous: tuple[Assessment, dt.date] | None,
    rules: PremiumRules,
    decided_on: dt.date,
    exception: PeriodLimitException | None,
) -> tuple[Assessment, ChargeKind | None, int]:
    """The household's new 調定, its kind (None: nothing to record) and the total before."""
    if previous is None:
        _check_limit(rules, decided_on, household.fiscal_year)
        return assess(household, rules, with_reasons=False), "initial", 0
    before, last_day = previous
    correction = correct(before, household, rules, decided_on, exception=exception)
    if correction.kind == "none":
        return correction.assessment, None, before.total
    if decided_on <= last_day:
        # The ledger keeps one decision per household and day, and never one dated before
        # the decision in force: a same-day run after a new change must wait for a later day.
        raise _SameDay(
            f"the 調定 in force was decided on {last_day}; an 更正 must be decided after it"
        )
    return correction.assessment, correction.kind, before.total


def _check_limit(rules: PremiumRules, decided_on: dt.date, fiscal_year: int) -> None:
    """An initial 調定 is a 賦課決定 too: barred from the §110-2(1) limit (no exception)."""
    limit = period_limit(rules)
    if decided_on >= limit:
        raise PeriodLimitError(
            f"当初賦課 of FY{fiscal_year} on {decided_on} is barred: 国保法 §110-2(1) forbids a "
            f"賦課決定 from {limit} (2 years from the day after the first 納期)",
            limit,
        )


def explain_household(
    engine: sa.Engine, municipality: str, fiscal_year: int, household_id: str
) -> Assessment:
    """The household's assessment for the year from the register, with every reason (for
    ``explain``), its 納期 the ones of the 調定 in force (after any 更正), and a reason saying
    whether that 調定 matches. LookupError when the municipality has no such household in
    the year."""
    rules = load_premium_rules(fiscal_year, municipality)
    # Read to the end: leaving the generator early would leave its server-side cursor open.
    found = [
        h for h in household_inputs(engine, municipality, fiscal_year)
        if h.household_id == household_id
    ]  # fmt: skip
    if not found:
        raise LookupError(
            f"household {household_id}: no 国保 member in {municipality} in FY{fiscal_year}"
        )
    assessment = assess(found[0], rules)
    charged = _in_force(engine, municipality, fiscal_year, household_id).get(household_id)
    if charged is None:
        note = "調定 not yet recorded (run assess)"
        return replace(assessment, reasons=(*assessment.reasons, Reason("調定", note)))
    previous, decided = charged
    if previous.total != assessment.total:
        # The register changed since the decision in force: show both, the bill is the 調定.
        note = (
            f"調定額 in force {previous.total:,}円 (decided on {decided}) differs from this "
            f"assessment: run reassess; the 納期 shown are the ones in force"
        )
    else:
        note = f"調定 decided on {decided}; the 納期 shown are the ones in force"
    return replace(
        assessment,
        instalments=previous.instalments,
        reasons=(*assessment.reasons, Reason("調定", note)),
    )
