"""Finding and reading double-payment cases (二重払い): 国保 coverages of a municipality that
overlap an employee coverage whose 資格取得日 was filed retroactively (資格決定日 after it).

A case is opened once per pair of coverages and keeps what the register and the premiums
showed that day (the overlap, per fiscal year the household, its 調定 and 収納 and the premium
of the overlapping months), because step ① ends the overlap in the register.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from kokuho.boundary._cases_model import (
    EMPLOYEE_KINDS,
    Case,
    CaseAudit,
    CaseYear,
    Step,
    UnknownCase,
    dumps,
)
from kokuho.boundary._cases_tables import boundary_case_steps, boundary_cases
from kokuho.premiums import (
    HouseholdInput,
    PremiumRuleError,
    assess,
    household_account,
    household_inputs,
    load_premium_rules,
    period_limit,
)
from kokuho.registry import Overlap, find_overlaps
from kokuho.registry import tables as register
from kokuho.store import Fence, write_transaction


def fiscal_year_of(day: dt.date) -> int:
    """年度: April to March."""
    return day.year if day.month >= 4 else day.year - 1


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _month(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def overlap_months(
    fiscal_year: int, loss_day: dt.date, acquired: dt.date | None, lost: dt.date | None
) -> tuple[str, ...]:
    """The months of ``fiscal_year`` a loss on ``loss_day`` takes off a member covered from
    ``acquired`` until ``lost``: premiums run from the 取得月 to the month before the 喪失月
    (国保法 §76, 月割), so the loss month itself is no longer charged."""
    first = _month_index(dt.date(fiscal_year, 4, 1))
    last = first + 11
    start = max(first, _month_index(loss_day))
    if acquired is not None:
        start = max(start, _month_index(acquired))
    end = last if lost is None else min(last, _month_index(lost) - 1)
    return tuple(_month(m) for m in range(start, end + 1))


def kokuho_insurers(connection: sa.Connection, municipality: str) -> list[str]:
    i = register.insurers.c
    query = sa.select(i.insurer_number).where(
        i.kind == "kokuho_municipal", i.municipality_code == municipality
    )
    return list(connection.execute(query).scalars())


def _without(household: HouseholdInput, person_id: int, loss_day: dt.date) -> HouseholdInput:
    start = dt.date(household.fiscal_year, 4, 1)
    members = []
    for member in household.members:
        if member.person_id != person_id:
            members.append(member)
        elif loss_day > start and (member.acquired is None or member.acquired < loss_day):
            lost = loss_day if member.lost is None else min(member.lost, loss_day)
            members.append(dataclasses.replace(member, lost=lost))
        elif member.person_id == household.head_person_id:
            # A 世帯主 off 国保 for the whole year still heads the household: 擬制世帯主.
            members.append(dataclasses.replace(member, acquired=None, lost=None))
    return dataclasses.replace(household, members=tuple(members))


def case_years(
    engine: sa.Engine,
    municipality: str,
    person_id: int,
    loss_day: dt.date,
    until: dt.date,
    as_of: dt.date,
    households: dict[int, list[HouseholdInput]] | None = None,
) -> list[CaseYear]:
    """Per fiscal year from ``loss_day`` to ``until``: the household charged for the person,
    the months a loss on ``loss_day`` takes off, and the premium of those months — the
    household's premium with the person minus without them (rules of the year, 月割)."""
    years: list[CaseYear] = []
    for year in range(fiscal_year_of(loss_day), fiscal_year_of(max(until, loss_day)) + 1):
        try:
            rules = load_premium_rules(year, municipality)
        except PremiumRuleError:
            continue  # no rules for the year: nothing was levied under kokuho
        # A scan opening many cases builds each year's households once (``households``).
        cache = {} if households is None else households
        if year not in cache:
            # Read to the end: the generator holds a server-side cursor.
            cache[year] = list(household_inputs(engine, municipality, year))
        for household in cache[year]:
            member = next((m for m in household.members if m.person_id == person_id), None)
            if member is None:
                continue
            months = overlap_months(year, loss_day, member.acquired, member.lost)
            if not months:
                continue
            before = assess(household, rules, with_reasons=False).total
            rest = _without(household, person_id, loss_day)
            insured = any(m.is_member for m in rest.members)
            after = assess(rest, rules, with_reasons=False).total if insured else 0
            account = household_account(engine, municipality, household.household_id, as_of)
            charged, paid = account.get(year, (0, 0))
            if charged == 0:
                continue  # no 調定 for the year (not yet assessed): nothing paid twice
            years.append(
                CaseYear(
                    year,
                    household.household_id,
                    months,
                    charged,
                    paid,
                    before - after,
                    period_limit(rules),
                )
            )
    return years


def _retroactive(overlap: Overlap, kokuho: set[str]) -> tuple[Any, Any] | None:
    """(国保 side, employee side) when the pair is a 国保 × employee overlap whose employee
    取得日 was filed after the fact (資格決定日 later than 資格取得日)."""
    for ours, theirs in ((overlap.first, overlap.second), (overlap.second, overlap.first)):
        if ours.insured.insurer in kokuho and theirs.insurer_kind in EMPLOYEE_KINDS:
            decided = theirs.decided_on
            if decided is not None and decided > theirs.acquired_on:
                return ours, theirs
    return None


def open_cases(
    engine: sa.Engine, municipality: str, on: dt.date, *, actor: str, audit: CaseAudit
) -> list[Case]:
    """Opens a case for every retroactive 国保 × employee overlap of ``municipality`` the
    register shows on ``on`` and no case holds yet; returns the new cases (none on a rerun)."""
    with engine.connect() as connection:
        kokuho = set(kokuho_insurers(connection, municipality))
        known = {
            (row.kokuho_coverage_id, row.employee_coverage_id)
            for row in connection.execute(
                sa.select(
                    boundary_cases.c.kokuho_coverage_id, boundary_cases.c.employee_coverage_id
                ).where(boundary_cases.c.municipality == municipality)
            )
        }
    pairs = []
    for insurer in sorted(kokuho):
        for overlap in find_overlaps(engine, insurer=insurer):
            found = _retroactive(overlap, kokuho)
            if found and (found[0].coverage_id, found[1].coverage_id) not in known:
                pairs.append((overlap, *found))
    households: dict[int, list[HouseholdInput]] = {}
    written = [
        insert_case(engine, municipality, overlap.person_id, ours, theirs, overlap.overlap_until,
                     "overlap", on, actor, theirs.decided_on, households=households)
        for overlap, ours, theirs in pairs
    ]  # fmt: skip
    # A run at the same time may have opened some of them: those are its cases, not new here.
    ids = [case_id for case_id, new in written if new]
    opened = read_cases(engine, municipality, ids)
    audit("boundary_open", actor, [c.person_id for c in opened], {"municipality": municipality})
    return opened


def insert_case(
    engine: sa.Engine,
    municipality: str,
    person_id: int,
    ours: Any,
    theirs: Any,
    overlap_until: dt.date | None,
    source: str,
    on: dt.date,
    actor: str,
    decided_on: dt.date | None,
    acquired_on: dt.date | None = None,
    *,
    households: dict[int, list[HouseholdInput]] | None = None,
    fence: Fence | None = None,
) -> tuple[int, bool]:
    """Writes one case (its years computed now); returns its id and whether this call wrote
    it: false when another run wrote the case of the same two coverages meanwhile. ``fence``
    runs first in the writing transaction (a 報告徴収 answer's request still its own)."""
    loss_day = max(ours.acquired_on, acquired_on or theirs.acquired_on)
    end = ours.lost_on - dt.timedelta(days=1) if ours.lost_on else on
    years = case_years(engine, municipality, person_id, loss_day, end, on, households)
    c = boundary_cases.c
    # Under the write lock, asked again: a run at the same time (two `double-payments --scan`)
    # may have opened the case since it was looked for; a second insert broke the unique key.
    with write_transaction(engine, "boundary_cases") as connection:
        if fence is not None:
            fence(connection)
        existing = connection.scalar(
            sa.select(c.case_id).where(
                c.kokuho_coverage_id == ours.coverage_id,
                c.employee_coverage_id == theirs.coverage_id,
            )
        )
        if existing is not None:
            return int(existing), False
        return int(
            connection.execute(
                sa.insert(boundary_cases).returning(boundary_cases.c.case_id),
                {
                    "municipality": municipality,
                    "person_id": person_id,
                    "kokuho_coverage_id": ours.coverage_id,
                    "employee_coverage_id": theirs.coverage_id,
                    "employee_insurer": theirs.insured.insurer,
                    "employee_acquired_on": acquired_on or theirs.acquired_on,
                    "employee_decided_on": decided_on,
                    "overlap_from": loss_day,
                    "overlap_until": overlap_until,
                    "source": source,
                    "opened_on": on,
                    "opened_by": actor,
                    "premiums": dumps({"years": [y.as_json() for y in years]}),
                },
            ).scalar_one()
        ), True


def read_cases(
    engine: sa.Engine, municipality: str | None, ids: Iterable[int] | None = None
) -> list[Case]:
    """Cases with their steps (of a municipality, or the ids given), oldest first."""
    query = sa.select(boundary_cases).order_by(boundary_cases.c.case_id)
    if municipality is not None:
        query = query.where(boundary_cases.c.municipality == municipality)
    if ids is not None:
        wanted = list(ids)
        if not wanted:
            return []
        query = query.where(boundary_cases.c.case_id.in_(wanted))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        case_ids = [row.case_id for row in rows]
        steps: dict[int, list[Step]] = {}
        if case_ids:
            s = boundary_case_steps.c
            for row in connection.execute(
                sa.select(boundary_case_steps).where(s.case_id.in_(case_ids)).order_by(s.step_id)
            ):
                steps.setdefault(row.case_id, []).append(
                    Step(row.step_id, row.step, row.decided_on, row.recorded_at,
                         row.recorded_by, row.supersedes, json.loads(row.detail))
                )  # fmt: skip
    return [
        Case(
            row.case_id,
            row.municipality,
            row.person_id,
            row.kokuho_coverage_id,
            row.employee_coverage_id,
            row.employee_insurer,
            row.employee_acquired_on,
            row.employee_decided_on,
            row.overlap_from,
            row.overlap_until,
            row.source,
            row.opened_on,
            tuple(CaseYear.from_json(y) for y in json.loads(row.premiums)["years"]),
            tuple(steps.get(row.case_id, [])),
        )  # fmt: skip
        for row in rows
    ]


def list_cases(
    engine: sa.Engine, municipality: str, *, actor: str, audit: CaseAudit,
    as_of: dt.date | None = None,
) -> list[Case]:  # fmt: skip
    """The municipality's cases (a person-level list: audited). With ``as_of``, as they stood
    that day: only the cases opened by then, with the steps decided by then."""
    found = read_cases(engine, municipality)
    if as_of is not None:
        found = [c for c in (case.as_of(as_of) for case in found) if c is not None]
    audit("boundary_list", actor, [c.person_id for c in found], {"municipality": municipality})
    return found


def case_detail(
    engine: sa.Engine, case_id: int, *, actor: str, audit: CaseAudit,
    as_of: dt.date | None = None,
) -> Case:  # fmt: skip
    """One case with every step (audited); UnknownCase for an id no case has. With
    ``as_of``, as it stood that day (UnknownCase if it was opened after it)."""
    found = read_cases(engine, None, [case_id])
    if not found:
        raise UnknownCase(f"no double-payment case {case_id}")
    case: Case | None = found[0]
    if as_of is not None:
        case = found[0].as_of(as_of)
        if case is None:
            raise UnknownCase(
                f"double-payment case {case_id} was opened on {found[0].opened_on}, after {as_of}"
            )
    assert case is not None
    audit("boundary_case", actor, [case.person_id], {"case_id": case_id})
    return case
