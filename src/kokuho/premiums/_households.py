"""Households (世帯) for premiums: the resident register's households joined with the
municipality's 国保 coverages, on a date or over a fiscal year (docs/premiums-households.md).

- a **member** is a person of the household covered by the municipality's 国保 while in it;
- the **世帯主** is the resident whose 続柄 is 世帯主; one who is not a member is a
  **擬制世帯主** (the premium is still charged to them, and their income counts for 軽減);
- a **特定同一世帯所属者** moved from this 国保 to 後期高齢者医療 (a 後期 coverage that began
  the day the 国保 one was lost) and has stayed in the household since;
- a **特定世帯** is left with one member by such a move: ``specified_household_since``.

History comes from the register's stays (resident_households): a person who moves between
households mid-year is a member of each for the months spent in it; a split opens a new
household with its own members from the day of the split.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from kokuho.premiums._grounds import YearGrounds, grounds_for_year
from kokuho.premiums._households_query import Row, municipal_insurer, rows
from kokuho.premiums._model import HouseholdInput, Income, Member
from kokuho.registry import tables

HEAD = "世帯主"
NO_PERSON = 0
"""``head_person_id`` of a 世帯主 the register holds no person record for (or no 世帯主)."""

SPECIFIED_HOUSEHOLD_YEARS = 8
_NO_GROUND = YearGrounds(None, False)
Span = tuple[dt.date, dt.date | None]  # [from, to), to None: open


class _Person:
    """One resident of a household, gathered from their rows (a plain slotted class: there
    are millions)."""

    __slots__ = (
        "birth_date", "head_from", "history", "income", "koki_in_period", "moved_to_koki",
        "person_id", "resident_id", "spans",
    )  # fmt: skip

    def __init__(self, resident_id: str, person_id: int | None, birth_date: dt.date) -> None:
        self.resident_id = resident_id
        self.person_id = person_id
        self.birth_date = birth_date
        self.head_from: dt.date | None = None  # the latest stay as 世帯主 in the period
        self.spans: list[Span] = []  # 国保 membership in the period
        self.history: list[Span] = []  # 国保 membership in the look-back
        self.moved_to_koki: list[dt.date] = []
        self.koki_in_period = False
        self.income: tuple[int, int, int, bool, bool, int] | None = None


def _earlier_end(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    """The earlier of two open-ended ends (None is 'never')."""
    if a is None:
        return b
    return a if b is None else min(a, b)


def _overlaps(span: Span, start: dt.date, end: dt.date) -> bool:
    return span[0] < end and (span[1] is None or span[1] > start)


def _membership(
    spans: list[Span],
) -> tuple[dt.date, dt.date | None, tuple[tuple[dt.date, dt.date], ...]]:
    """(first day, end, gaps) of a person's membership spans: a stay broken only by a new 続柄
    (two adjacent spans) is one membership; a time away between two stays (a 転出 and a
    return) is a gap, not charged."""
    ordered = sorted(spans, key=lambda span: span[0])
    first, reach = ordered[0]
    gaps: list[tuple[dt.date, dt.date]] = []
    for start, stop in ordered[1:]:
        if reach is None:
            break  # covered from here on
        if start > reach:
            gaps.append((reach, start))
        reach = None if stop is None else max(reach, stop)
    return first, reach, tuple(gaps)


def _covers(span: Span, day: dt.date) -> bool:
    return span[0] <= day and (span[1] is None or span[1] > day)


def _people(group: Iterable[Row], start: dt.date, end: dt.date) -> dict[str, _Person]:
    people: dict[str, _Person] = {}
    for row in group:
        person = people.get(row.resident_id)
        if person is None:
            person = people[row.resident_id] = _Person(
                row.resident_id, row.person_id, row.birth_date
            )
        if person.income is None and row.salary is not None:
            person.income = (
                int(row.salary),
                int(row.pension or 0),
                int(row.other or 0),
                bool(row.declared),
                bool(row.wage_earner),
                int(row.fixed_asset_tax or 0),
            )
        stay = (row.stay_from, row.stay_to)
        if (
            row.relationship == HEAD
            and _overlaps(stay, start, end)
            and (person.head_from is None or row.stay_from > person.head_from)
        ):
            person.head_from = row.stay_from
        if row.acquired is None:
            continue
        joined = max(row.acquired, row.stay_from)
        left = _earlier_end(row.lost, row.stay_to)
        if left is not None and left <= joined:
            continue
        if not row.koki:
            person.history.append((joined, left))
            if _overlaps((joined, left), start, end):
                person.spans.append((joined, left))
        elif row.from_kokuho and row.acquired >= row.stay_from:
            person.moved_to_koki.append(row.acquired)
            person.koki_in_period = person.koki_in_period or _overlaps((joined, left), start, end)
    return people


@dataclass(frozen=True)
class _Formed:
    household_id: str
    head: _Person | None
    members: list[_Person]
    specified: list[_Person]
    specified_since: dt.date | None


def _form(household_id: str, group: Iterable[Row], start: dt.date, end: dt.date) -> _Formed:
    people = _people(group, start, end)
    members = [p for p in people.values() if p.spans and p.person_id is not None]
    specified = [
        p for p in people.values() if not p.spans and p.koki_in_period and p.person_id is not None
    ]
    heads = [p for p in people.values() if p.head_from is not None]
    head = max(heads, key=lambda p: p.head_from or dt.date.min) if heads else None
    history = [span for p in people.values() for span in p.history]
    # Only a mover still in the household (and in 後期) in the period keeps it a 特定世帯.
    moves = sorted(day for p in people.values() if p.koki_in_period for day in p.moved_to_koki)
    since = next((day for day in moves if sum(_covers(s, day) for s in history) == 1), None)
    return _Formed(household_id, head, members, specified, since)


def _formed(
    engine: sa.Engine, municipality: str, start: dt.date, end: dt.date, fiscal_year: int | None
) -> Iterator[_Formed]:
    # A 特定世帯 keeps its reduction up to 8 years (5 halved, 3 by a quarter): the rows reach
    # back that far so the household's members on the day of the move are known.
    lookback = dt.date(start.year - SPECIFIED_HOUSEHOLD_YEARS, start.month, 1)
    with engine.connect() as connection:
        stream = rows(connection, municipality, lookback, end, fiscal_year)
        for household_id, group in itertools.groupby(stream, key=lambda row: row.household_id):
            formed = _form(household_id, group, start, end)
            if formed.members:
                yield formed


@dataclass(frozen=True)
class Household:
    """A household (世帯) on one date: person ids only, no personal data."""

    household_id: str
    head_person_id: int
    """The 世帯主's person id; NO_PERSON if the register has none (or no 世帯主 is recorded)."""
    head_recorded: bool
    """The resident register names a 世帯主 of this household."""
    members: tuple[int, ...]
    specified: tuple[int, ...]
    """特定同一世帯所属者."""
    specified_household_since: dt.date | None
    """特定世帯 since (a member moved to 後期 and one member was left)."""

    @property
    def nominal_head(self) -> bool:
        """擬制世帯主: the 世帯主 is not a member of this 国保."""
        return self.head_recorded and self.head_person_id not in self.members


def households_on(engine: sa.Engine, municipality: str, on: dt.date) -> Iterator[Household]:
    """The municipality's 国保 households on ``on``: every household with a member that day."""
    for formed in _formed(engine, municipality, on, on + dt.timedelta(days=1), None):
        head = formed.head
        yield Household(
            formed.household_id,
            NO_PERSON if head is None or head.person_id is None else head.person_id,
            head is not None,
            tuple(sorted(p.person_id for p in formed.members if p.person_id is not None)),
            tuple(sorted(p.person_id for p in formed.specified if p.person_id is not None)),
            formed.specified_since,
        )


def fiscal_year_bounds(fiscal_year: int) -> tuple[dt.date, dt.date]:
    """[4月1日, next 4月1日) of a fiscal year (年度)."""
    return dt.date(fiscal_year, 4, 1), dt.date(fiscal_year + 1, 4, 1)


def _income(person: _Person) -> Income:
    if person.income is None:
        # No 市町村民税 record is no declaration: 未申告, so no 軽減 is judged on a guess.
        return Income(declared=False)
    salary, pension, other, declared, wage_earner, _ = person.income
    return Income(salary, pension, other, declared, wage_earner)


def household_inputs(
    engine: sa.Engine, municipality: str, fiscal_year: int
) -> Iterator[HouseholdInput]:
    """The assessment inputs of every household of the municipality with a 国保 member in the
    fiscal year: members with their coverage in the household, the 世帯主 (also a 擬制世帯主),
    特定同一世帯所属者, and the previous calendar year's incomes (loaded for ``fiscal_year``);
    the members' 非自発的失業 and 旧被扶養者 grounds (docs/formats.md §8a) that bear on the year.

    A person without an income record is 未申告. ``fixed_asset_tax`` sums the members' own
    固定資産税額 (資産割 is levied on the members' assets only).
    """
    start, end = fiscal_year_bounds(fiscal_year)
    with engine.connect() as connection:
        grounds = grounds_for_year(connection, fiscal_year)
    for formed in _formed(engine, municipality, start, end, fiscal_year):
        members: list[Member] = []
        for person in formed.members:
            acquired, lost, gaps = _membership(person.spans)
            assert person.person_id is not None
            # Only a 国保 member holds a ground (特例対象被保険者等, 旧被扶養者): a 擬制世帯主's
            # or a 特定同一世帯所属者's income is counted as it is.
            ground = grounds.get(person.resident_id, _NO_GROUND)
            members.append(
                Member(
                    person.person_id,
                    person.birth_date,
                    acquired,
                    lost,
                    _income(person),
                    involuntary_unemployment_from=ground.involuntary_unemployment_from,
                    former_dependant=ground.former_dependant,
                    gaps=gaps,
                )  # fmt: skip
            )
        ids = {p.resident_id for p in formed.members}
        for person in formed.specified:
            assert person.person_id is not None
            members.append(
                Member(
                    person.person_id,
                    person.birth_date,
                    None,
                    None,
                    _income(person),
                    specified_same_household=True,
                )
            )
            ids.add(person.resident_id)
        head = formed.head
        head_id = NO_PERSON if head is None or head.person_id is None else head.person_id
        if head is not None and head.resident_id not in ids:
            members.insert(0, Member(head_id, head.birth_date, None, None, _income(head)))
        yield HouseholdInput(
            formed.household_id,
            municipality,
            fiscal_year,
            head_id,
            tuple(members),
            fixed_asset_tax=sum(p.income[5] for p in formed.members if p.income),
            specified_household_since=formed.specified_since,
        )


@dataclass(frozen=True)
class HouseholdSummary:
    """Counts of a municipality's 国保 households on a date (no personal data)."""

    municipality: str
    insurer_number: str
    on: dt.date
    households: int
    members: int
    nominal_heads: int
    """擬制世帯主 households."""
    specified_persons: int
    """特定同一世帯所属者."""
    specified_households: int
    """特定世帯."""
    without_head: int
    """Households whose 世帯主 the register does not record."""
    unplaced_members: int
    """国保 members on the date found in no household of the municipality (their resident
    record has no 世帯番号, or no resident record matches them)."""
    residents_without_household: int
    """Residents of the municipality with no 世帯番号 on record (an older resident file)."""


def household_summary(engine: sa.Engine, municipality: str, on: dt.date) -> HouseholdSummary:
    counts = {"households": 0, "members": 0, "nominal": 0, "specified": 0, "sh": 0, "nohead": 0}
    placed: set[int] = set()
    for household in households_on(engine, municipality, on):
        counts["households"] += 1
        counts["members"] += len(household.members)
        counts["nominal"] += household.nominal_head
        counts["specified"] += len(household.specified)
        counts["sh"] += household.specified_household_since is not None
        counts["nohead"] += not household.head_recorded
        placed.update(household.members)
    with engine.connect() as connection:
        insurer = municipal_insurer(connection, municipality)
        c, r, h = tables.coverages.c, tables.residents.c, tables.resident_households.c
        covered = set(
            connection.scalars(
                sa.select(c.person_id).where(
                    c.insurer_number == insurer,
                    c.acquired_on <= on,
                    sa.or_(c.lost_on.is_(None), c.lost_on > on),
                )
            )
        )
        stayless = connection.scalar(
            sa.select(sa.func.count())
            .select_from(tables.residents)
            .where(
                r.municipality_code == municipality,
                ~sa.select(h.resident_id).where(h.resident_id == r.resident_id).exists(),
            )
        )
    return HouseholdSummary(
        municipality,
        insurer,
        on,
        counts["households"],
        counts["members"],
        counts["nominal"],
        counts["specified"],
        counts["sh"],
        counts["nohead"],
        len(covered - placed),
        int(stayless or 0),
    )
