"""国保 members placed in no household (世帯に属さない被保険者): covered by the municipality's 国保
in the fiscal year but found in none of its households, so no premium would be charged for
them. Listed with the reason, never dropped silently (docs/premiums-households.md).

A member is joined to the resident register by the verified My Number link or by the five
normalised basic items; one whose insurer record differs from the 住基 in an item (an
unreported move, a maiden name) and has no verified link matches no resident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa

from kokuho.premiums._households import fiscal_year_bounds, household_inputs
from kokuho.premiums._households_query import municipal_insurer
from kokuho.registry import tables

NO_RESIDENT: Final = "no_resident"
NO_HOUSEHOLD: Final = "no_household"
REASONS: Final = {
    NO_RESIDENT: (
        "no resident record has the insured's five basic items and no verified My Number "
        "link joins one (the 住基 differs in an item: verify the link or correct the record)"
    ),
    NO_HOUSEHOLD: (
        "the resident has no stay in a household (世帯) of the municipality while covered "
        "(a resident file without 世帯番号, or a stay elsewhere)"
    ),
}
_CHUNK: Final = 1000


@dataclass(frozen=True, slots=True, order=True)
class UnplacedMember:
    """A 国保 member of the year in no household: the person id and why (a ``REASONS`` key)."""

    person_id: int
    reason: str

    @property
    def text(self) -> str:
        return REASONS[self.reason]


def covered_persons(engine: sa.Engine, municipality: str, fiscal_year: int) -> set[int]:
    """Every person with a coverage of the municipality's 国保 overlapping the fiscal year."""
    start, end = fiscal_year_bounds(fiscal_year)
    c = tables.coverages.c
    with engine.connect() as connection:
        insurer = municipal_insurer(connection, municipality)
        return set(
            connection.scalars(
                sa.select(c.person_id)
                .where(c.insurer_number == insurer, c.acquired_on < end)
                .where(sa.or_(c.lost_on.is_(None), c.lost_on > start))
                .distinct()
            )
        )


def reasons(engine: sa.Engine, person_ids: Iterable[int]) -> list[UnplacedMember]:
    """Why each of ``person_ids`` (members placed in no household) is unplaced: no resident
    joined to them, or a resident with no stay in a household of the municipality."""
    wanted = sorted(set(person_ids))
    p, r, pm = tables.persons.c, tables.residents.c, tables.person_mynumbers.c
    joined: set[int] = set()
    with engine.connect() as connection:
        for first in range(0, len(wanted), _CHUNK):
            chunk = wanted[first : first + _CHUNK]
            by_link = sa.select(pm.person_id).where(pm.person_id.in_(chunk))
            by_items = (
                sa.select(p.person_id)
                .join(tables.residents, r.match_key == p.match_key)
                .where(p.person_id.in_(chunk))
            )
            joined.update(connection.scalars(sa.union(by_link, by_items)))
    return [UnplacedMember(pid, NO_HOUSEHOLD if pid in joined else NO_RESIDENT) for pid in wanted]


def unplaced_members(
    engine: sa.Engine, municipality: str, fiscal_year: int
) -> list[UnplacedMember]:
    """The members of the year in no household, by the per-household reference
    (``household_inputs``); ``household_columns`` finds the same from its own read."""
    placed = {
        m.person_id
        for h in household_inputs(engine, municipality, fiscal_year)
        for m in h.members
        if m.is_member
    }
    return reasons(engine, covered_persons(engine, municipality, fiscal_year) - placed)
