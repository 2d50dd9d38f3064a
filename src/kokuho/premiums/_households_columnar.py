"""Household inputs as columns (一括賦課の入力): the tables ``assess_table`` reads, built straight
from SQL for a whole municipality and fiscal year, with the same households, members and
figures as ``household_inputs`` (the per-household reference, ``_households``).

Two queries with no ORDER BY, run at once on two connections and read as text lines the
database writes (SQLite ``group_concat``, PostgreSQL ``COPY``) parsed by ``pyarrow.csv`` (the
driver's cursor when a value cannot travel as a line): the stays of the municipality's
households with the resident's person, birth date and income; and the insurer's 国保 and
every 後期 coverage. Persons and households become contiguous runs by sorting integer codes
of their ids; coverages are matched to stays with ``searchsorted``; each (stay, coverage) pair
is clipped to the stay as the reference does; the rest are reductions over the runs. Only a
household with a move to 後期 in the period (a possible 特定世帯, a handful per thousand) has
its ``specified_household_since`` found in Python, from the same pairs.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from kokuho.premiums._assess_columnar_tables import (
    HOUSEHOLDS_SCHEMA,
    MEMBERS_SCHEMA,
    NEVER_DAY,
    ColumnarInputError,
)
from kokuho.premiums._grounds import YearGrounds, grounds_for_year
from kokuho.premiums._households import (
    HEAD,
    NO_PERSON,
    SPECIFIED_HOUSEHOLD_YEARS,
    fiscal_year_bounds,
)
from kokuho.premiums._households_columnar_read import (
    driver_sql as driver_sql,  # imported from here too
)
from kokuho.premiums._households_columnar_read import read_columns
from kokuho.premiums._households_query import KOKI_KIND, links_materialized, municipal_insurer

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_NONE: Final = -1
"""A null person id while forming (person ids are positive)."""

# The stays of the municipality's households overlapping the period, each with the resident's
# birth date, person (the verified My Number link first, else the lowest person id with the
# same five normalised items, as ``person_of_resident``) and the fiscal year's income.
_STAYS: Final = """
SELECT h.household_id AS c0, h.resident_id AS c1,
       CASE WHEN h.relationship = {head} THEN 1 ELSE 0 END AS c2,
       h.valid_from AS c3, h.valid_to AS c4, r.birth_date AS c5,
       COALESCE(pm.person_id,
                (SELECT min(p.person_id) FROM persons p WHERE p.match_key = r.match_key)) AS c6,
       i.salary AS c7, i.pension AS c8, i.other AS c9,
       CASE WHEN i.declared THEN 1 ELSE 0 END AS c10,
       CASE WHEN i.wage_earner THEN 1 ELSE 0 END AS c11, i.fixed_asset_tax AS c12
FROM resident_households h
JOIN residents r ON r.resident_id = h.resident_id
LEFT JOIN person_mynumbers pm ON pm.resident_id = h.resident_id
LEFT JOIN premium_incomes i ON i.resident_id = h.resident_id AND i.fiscal_year = {year}
WHERE h.municipality_code = {municipality} AND h.valid_from < {end}
  AND (h.valid_to IS NULL OR h.valid_to > {start})
"""
_STAY_TYPES: Final = (
    pa.string(), pa.string(), pa.int8(), pa.date32(), pa.date32(), pa.date32(), pa.int64(),
    pa.int64(), pa.int64(), pa.int64(), pa.int8(), pa.int8(), pa.int64(),
)  # fmt: skip

# The insurer's 国保 coverages and every 後期 one overlapping the period; a 後期 coverage that
# began the day a coverage of this 国保 was lost is marked (a move to 後期高齢者医療).
_COVERAGES: Final = """
SELECT c.person_id AS c0, CASE WHEN c.insurer_number = {insurer} THEN 0 ELSE 1 END AS c1,
       c.acquired_on AS c2, c.lost_on AS c3,
       CASE WHEN c.insurer_number = {insurer} THEN 0
            WHEN EXISTS (SELECT 1 FROM coverages e WHERE e.person_id = c.person_id
                         AND e.insurer_number = {insurer} AND e.lost_on = c.acquired_on)
            THEN 1 ELSE 0 END AS c4
FROM coverages c
WHERE (c.insurer_number = {insurer}
       OR c.insurer_number IN (SELECT n.insurer_number FROM insurers n WHERE n.kind = {koki}))
  AND c.acquired_on < {end} AND (c.lost_on IS NULL OR c.lost_on > {start})
"""
_COVERAGE_TYPES: Final = (pa.int64(), pa.int8(), pa.date32(), pa.date32(), pa.int8())


def _days(column: pa.Array) -> Ints:
    """Dates (ISO text on SQLite, date objects on PostgreSQL) as day numbers, null NEVER_DAY."""
    if pa.types.is_null(column.type):
        return np.full(len(column), NEVER_DAY, dtype=np.int64)
    dates = column.cast(pa.date32())
    return np.asarray(dates.cast(pa.int32()).fill_null(NEVER_DAY).to_numpy(), dtype=np.int64)


def _ints(column: pa.Array, null: int) -> Ints:
    if pa.types.is_null(column.type):
        return np.full(len(column), null, dtype=np.int64)
    return np.asarray(column.cast(pa.int64()).fill_null(null).to_numpy(), dtype=np.int64)


def _runs(key: Ints) -> Ints:
    """Start offsets of the runs of equal ``key`` (sorted), with the end appended."""
    if not len(key):
        return np.zeros(1, dtype=np.int64)
    change = np.flatnonzero(key[1:] != key[:-1]) + 1
    return np.concatenate([[0], change, [len(key)]]).astype(np.int64)


def _codes(values: pa.Array) -> Ints:
    """An integer per distinct value (a hash table in Arrow)."""
    encoded = pc.dictionary_encode(values)
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def _any(values: Bools, starts: Ints) -> Bools:
    return np.asarray(np.add.reduceat(values.astype(np.int64), starts[:-1]) > 0, dtype=bool)


def household_columns(
    engine: sa.Engine, municipality: str, fiscal_year: int
) -> tuple[pa.Table, pa.Table]:
    """(members, households): ``read_households`` without the unplaced members."""
    members, households, _ = read_households(engine, municipality, fiscal_year)
    return members, households


def read_households(
    engine: sa.Engine, municipality: str, fiscal_year: int
) -> tuple[pa.Table, pa.Table, Ints]:
    """(members, households) of every household of the municipality with a 国保 member in
    the fiscal year, in ``MEMBERS_SCHEMA`` and ``HOUSEHOLDS_SCHEMA``: the rows
    ``household_tables(household_inputs(...))`` gives, read in one pass per table; and the
    person ids of the 国保 members of the year placed in no household (sorted).
    UnknownMunicipality when the municipality has no 国保."""
    start, end = fiscal_year_bounds(fiscal_year)
    lookback = dt.date(start.year - SPECIFIED_HOUSEHOLD_YEARS, start.month, 1)
    with engine.connect() as connection:
        insurer = municipal_insurer(connection, municipality)
        grounds = grounds_for_year(connection, fiscal_year)
    dialect = engine.dialect.name
    # SQLite stores ISO text (compared as text); PostgreSQL takes the date.
    first, last = (
        (lookback.isoformat(), end.isoformat()) if dialect == "sqlite" else (lookback, end)
    )
    stays = (
        links_materialized(
            driver_sql(_STAYS, dialect, ["head", "year", "municipality", "end", "start"]), dialect
        ),
        {"head": HEAD, "year": fiscal_year, "municipality": municipality, "end": last,
         "start": first},
        _STAY_TYPES,
    )  # fmt: skip
    coverages = (
        driver_sql(_COVERAGES, dialect, ["insurer", "koki", "end", "start"]),
        {"insurer": insurer, "koki": KOKI_KIND, "end": last, "start": first},
        _COVERAGE_TYPES,
    )
    # Two connections at once: both drivers let the other thread run while the database works.
    with ThreadPoolExecutor(2) as pool:
        s, c = pool.map(lambda query: read_columns(engine, *query), (stays, coverages))
    return _form(s, c, start, end, grounds)


def _form(
    s: list[pa.Array],
    c: list[pa.Array],
    start: dt.date,
    end: dt.date,
    grounds: dict[str, YearGrounds],
) -> tuple[pa.Table, pa.Table, Ints]:
    first, after = _day_number(start), _day_number(end)
    household_ids = s[0].cast(pa.string())
    resident_ids = s[1]
    # Persons and households as contiguous runs: the stays ordered by integer codes of
    # (household, resident) (a hash, then an integer sort: no collation, no string sort).
    house_code = _codes(household_ids)
    resident_code = _codes(s[1])
    key = house_code * (int(resident_code.max(initial=0)) + 1) + resident_code
    order = np.argsort(key, kind="stable")
    s = [column.take(pa.array(order)) for column in s[2:]]
    s = [pa.nulls(0), pa.nulls(0), *s]  # the ids stay in SQL order: taken through ``order``
    key, house_code = key[order], house_code[order]
    head_row = _ints(s[2], 0).astype(bool)
    stay_from, stay_to, birth = _days(s[3]), _days(s[4]), _days(s[5])
    person = _ints(s[6], _NONE)
    has_income = np.asarray(pc.is_valid(s[7]).to_numpy(zero_copy_only=False), dtype=bool)
    salary, pension, other = _ints(s[7], 0), _ints(s[8], 0), _ints(s[9], 0)
    declared = _ints(s[10], 0).astype(bool) & has_income
    wage_earner = _ints(s[11], 0).astype(bool) & has_income
    asset = _ints(s[12], 0)

    # (stay, coverage) pairs: every coverage of the stay's person.
    by_person = pa.array(np.argsort(_ints(c[0], _NONE), kind="stable"))
    c = [column.take(by_person) for column in c]
    cov_person = _ints(c[0], _NONE)
    koki = _ints(c[1], 0).astype(bool)
    acquired, lost, from_kokuho = _days(c[2]), _days(c[3]), _ints(c[4], 0).astype(bool)
    covered = np.unique(cov_person[~koki & (acquired < after) & (lost > first)])
    lo = np.searchsorted(cov_person, person, "left")
    hi = np.searchsorted(cov_person, person, "right")
    count = np.where(person == _NONE, 0, hi - lo)
    stay = np.repeat(np.arange(len(person)), count)
    offset = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    cov = (lo[stay] + np.arange(len(stay)) - offset[stay]).astype(np.int64)
    p_acquired, p_lost = acquired[cov], lost[cov]
    joined = np.maximum(p_acquired, stay_from[stay])
    left = np.minimum(p_lost, stay_to[stay])
    valid = left > joined
    overlap = (joined < after) & (left > first)
    history = valid & ~koki[cov]
    span = history & overlap
    moved = valid & koki[cov] & from_kokuho[cov] & (p_acquired >= stay_from[stay])
    koki_in_period = moved & overlap

    # Persons: runs of (household, resident) in the sorted stays.
    persons = _runs(key)
    p_first = persons[:-1]
    owner_of_stay = np.repeat(np.arange(len(p_first)), np.diff(persons))
    pair_owner = owner_of_stay[stay]
    n_persons = len(p_first)
    has_span = np.bincount(pair_owner[span], minlength=n_persons) > 0
    big = np.int64(NEVER_DAY)
    p_acq = np.full(n_persons, big, dtype=np.int64)
    np.minimum.at(p_acq, pair_owner[span], joined[span])
    p_left = np.full(n_persons, -big, dtype=np.int64)
    np.maximum.at(p_left, pair_owner[span], left[span])  # NEVER_DAY (open) wins the max
    in_koki = np.bincount(pair_owner[koki_in_period], minlength=n_persons) > 0
    gap_from, gap_to = _gaps(span, pair_owner, joined, left, n_persons)
    pid = person[p_first]
    member = has_span & (pid != _NONE)
    specified = ~has_span & in_koki & (pid != _NONE)
    # 世帯主: the latest stay as 世帯主 overlapping the period; a tie goes to the first resident.
    head_stay = head_row & (stay_from < after) & (stay_to > first)
    head_from = np.full(n_persons, -big, dtype=np.int64)
    np.maximum.at(head_from, owner_of_stay[head_stay], stay_from[head_stay])

    # Households: runs of household_id over persons.
    houses = _runs(house_code[p_first])
    h_first = houses[:-1]
    n_houses = len(h_first)
    house_of_person = np.repeat(np.arange(n_houses), np.diff(houses))
    latest = np.maximum.reduceat(head_from, h_first) if n_persons else head_from
    candidate = (head_from > -big) & (head_from == latest[house_of_person])
    index = np.where(candidate, np.arange(n_persons), n_persons)
    head = np.minimum.reduceat(index, h_first) if n_persons else index
    has_head = head < n_persons
    safe_head = np.where(has_head, head, 0)
    head_pid = np.where(has_head & (pid[safe_head] != _NONE), pid[safe_head], NO_PERSON)
    kept = _any(member, houses)
    listed = member | specified
    head_row_needed = kept & has_head & ~listed[safe_head]
    fat = np.asarray(
        np.add.reduceat(np.where(member & has_income[p_first], asset[p_first], 0), h_first)
        if n_persons
        else np.zeros(0, dtype=np.int64),
        dtype=np.int64,
    )
    since = _specified_since(
        _any(in_koki, houses) & kept, houses, pair_owner, house_of_person,
        (joined, left, history, moved, p_acquired, in_koki),
    )  # fmt: skip

    # The members table: the listed persons of kept households, then the heads not listed.
    chosen = np.flatnonzero(listed & kept[house_of_person])
    heads = safe_head[head_row_needed]
    rows = np.concatenate([chosen, heads])
    is_head_row = np.concatenate([np.zeros(len(chosen), bool), np.ones(len(heads), bool)])
    stay_of = p_first[rows]
    is_member = member[rows] & ~is_head_row
    leaving, former = _ground_columns(
        resident_ids.take(pa.array(order[stay_of])), is_member, grounds
    )
    members = pa.table(
        {
            "household_id": household_ids.take(pa.array(order[stay_of])),
            "person_id": pa.array(
                np.where(is_head_row, head_pid[house_of_person[rows]], pid[rows])
            ),  # fmt: skip
            "birth_date": _dates(birth[stay_of]),
            "acquired": _dates(np.where(is_member, p_acq[rows], NEVER_DAY)),
            "lost": _dates(np.where(is_member, p_left[rows], NEVER_DAY)),
            "salary": pa.array(salary[stay_of]),
            "pension": pa.array(pension[stay_of]),
            "other": pa.array(other[stay_of]),
            "declared": pa.array(declared[stay_of]),
            "wage_earner": pa.array(wage_earner[stay_of]),
            "specified_same_household": pa.array(specified[rows] & ~is_head_row),
            "involuntary_unemployment_from": leaving,
            "former_dependant": former,
            "delivery_due": pa.nulls(len(rows), pa.date32()),
            "gap_from": _dates(np.where(is_member, gap_from[rows], NEVER_DAY)),
            "gap_to": _dates(np.where(is_member, gap_to[rows], NEVER_DAY)),
        },
        schema=MEMBERS_SCHEMA,
    )
    wanted = np.flatnonzero(kept)
    households = pa.table(
        {
            "household_id": household_ids.take(pa.array(order[p_first[h_first[wanted]]])),
            "head_person_id": pa.array(head_pid[wanted]),
            "fixed_asset_tax": pa.array(fat[wanted]),
            "specified_household_since": _dates(since[wanted]),
        },
        schema=HOUSEHOLDS_SCHEMA,
    )
    placed = pid[chosen][member[chosen]]
    return members, households, np.setdiff1d(covered, placed)


def _ground_columns(
    residents: pa.Array, is_member: Bools, grounds: dict[str, YearGrounds]
) -> tuple[pa.Array, pa.Array]:
    """The members' 非自発的失業 start and 旧被扶養者 flag, as ``household_inputs`` sets them:
    for 国保 members only (a few per thousand persons hold a ground: a look-up, no join)."""
    count = len(residents)
    if not grounds:
        return pa.nulls(count, pa.date32()), pa.array(np.zeros(count, dtype=bool))
    keys = sorted(grounds)
    found = pc.index_in(residents.cast(pa.string()), value_set=pa.array(keys, pa.string()))
    index = np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    hit = (index >= 0) & is_member
    safe = np.where(hit, index, 0)
    starts = np.array(
        [
            NEVER_DAY if g.involuntary_unemployment_from is None
            else _day_number(g.involuntary_unemployment_from)
            for g in (grounds[key] for key in keys)
        ],
        dtype=np.int64,
    )  # fmt: skip
    flags = np.array([grounds[key].former_dependant for key in keys], dtype=bool)
    return _dates(np.where(hit, starts[safe], NEVER_DAY)), pa.array(hit & flags[safe])


def _gaps(span: Bools, owner: Ints, joined: Ints, left: Ints, persons: int) -> tuple[Ints, Ints]:
    """Per person the time away between two membership spans (a 転出 and a return), as
    ``_households._membership``: the spans in order of their first day, a hole wherever one
    starts after every earlier one has ended. NEVER_DAY where there is none; more than one
    in the year is ColumnarInputError (the columns hold one)."""
    chosen = np.flatnonzero(span)
    chosen = chosen[np.lexsort((joined[chosen], owner[chosen]))]
    who, start, stop = owner[chosen], joined[chosen], left[chosen]
    # A running maximum of the ends within each person: offset each person above the last.
    lift = who * np.int64(4 * NEVER_DAY)
    reach = np.maximum.accumulate(stop + lift) - lift if len(stop) else stop
    hole = np.flatnonzero((who[1:] == who[:-1]) & (start[1:] > reach[:-1])) + 1
    gap_from = np.full(persons, NEVER_DAY, dtype=np.int64)
    gap_to = np.full(persons, NEVER_DAY, dtype=np.int64)
    if len(hole):
        if np.bincount(who[hole]).max() > 1:
            raise ColumnarInputError("a member has two gaps in the year: assess per household")
        gap_from[who[hole]] = reach[hole - 1]
        gap_to[who[hole]] = start[hole]
    return gap_from, gap_to


def _specified_since(
    candidates: Bools,
    houses: Ints,
    pair_owner: Ints,
    house_of_person: Ints,
    pairs: tuple[Ints, Ints, Bools, Bools, Ints, Bools],
) -> Ints:
    """特定世帯 since, for the few households with a move to 後期 in the period: the first
    such move (by a mover still in the household and in 後期 in the period) that left exactly
    one 国保 membership covering the day, as ``_households._form``."""
    joined, left, history, moved, acquired, in_koki = pairs
    since = np.full(len(houses) - 1, NEVER_DAY, dtype=np.int64)
    wanted = np.flatnonzero(candidates)
    if not len(wanted):
        return since
    pair_house = house_of_person[pair_owner]
    mine = np.isin(pair_house, wanted)
    rows = np.flatnonzero(mine)
    order = rows[np.argsort(pair_house[rows], kind="stable")]
    bounds = np.searchsorted(pair_house[order], wanted)
    ends = np.searchsorted(pair_house[order], wanted, "right")
    for house, lo, hi in zip(wanted, bounds, ends, strict=True):
        block = order[lo:hi]
        spans = [(joined[k], left[k]) for k in block if history[k]]
        # Every move to 後期 of a person in 後期 in the period counts, in the period or not.
        days = sorted(int(acquired[k]) for k in block if moved[k] and in_koki[pair_owner[k]])
        for day in days:
            if sum(a <= day < b for a, b in spans) == 1:
                since[house] = day
                break
    return since


def _day_number(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _dates(days: Ints) -> pa.Array:
    values = np.asarray(days, dtype=np.int64)
    return pa.array(values.astype(np.int32), pa.int32(), mask=values >= NEVER_DAY).cast(pa.date32())
