"""更正 from the change feed (資格異動): after ``kokuho registry import`` applies acquisitions and
losses of municipal 国保 members, the fiscal years they touch are reassessed (docs
premiums-assessment.md, "更正 from the change feed").

The registry cannot import this room (the arrows run premiums → registry), so the caller (the
CLI) takes a :func:`feed_position` before the import and hands it to
:func:`reassess_after_feed` afterwards. What a file applied is read back from the register's
``feed_events`` (one row per applied event, with the file that applied it). A file loaded
again applies nothing, but the caller names it (its SHA-256) and its years are reassessed all
the same: a run killed between the feed's commit and its 更正 is completed by the rerun, and
after a run that finished the 更正 finds every household unchanged.

A loss or acquisition effective on day D changes the months of coverage of the fiscal year of D
and of every later one; of those, only the municipality-years that already have 調定 are
reassessed (a year without 調定 waits for its 本算定). Each is a :func:`reassess` run: per
household 増額・減額賦課, 当初賦課 for a household new to the year, refusals (§110-2(1) period
limit) listed with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from kokuho.ids import FiscalYear
from kokuho.premiums._charges import charge_decisions
from kokuho.premiums._correct import PeriodLimitException
from kokuho.premiums._levying import ReassessmentRun, reassess
from kokuho.registry import tables as registry

#: The insurer kind of a municipality's 国保 (the register's insurers table).
MUNICIPAL_KIND = "kokuho_municipal"
#: Events that change who is covered in which months; a ``change`` (氏名, 負担割合, …) does not.
COVERAGE_EVENTS = ("acquire", "lose")


def feed_position(engine: sa.Engine) -> int:
    """The id of the last change-feed file loaded (0 before any): take it before an import."""
    with engine.connect() as connection:
        found = connection.scalar(sa.select(sa.func.max(registry.feed_files.c.file_id)))
    return int(found or 0)


@dataclass(frozen=True, slots=True)
class FeedTouch:
    """A municipality-year with 調定 that applied feed events reach: ``events`` of them."""

    municipality: str
    fiscal_year: int
    events: int


def touched_years(engine: sa.Engine, after: int, again: Collection[str] = ()) -> list[FeedTouch]:
    """The municipality-years with 調定 that the acquisitions and losses of municipal 国保
    members applied by feed files loaded after position ``after``, or by the files loaded
    earlier with a SHA-256 in ``again``, reach, in order."""
    e, i, d = registry.feed_events.c, registry.insurers.c, charge_decisions.c
    files = registry.feed_files.c
    loaded = e.file_id > after
    if again:
        earlier = sa.select(files.file_id).where(files.sha256.in_(sorted(again)))
        loaded = sa.or_(loaded, e.file_id.in_(earlier))
    # Grouped by day: a bulk load of millions of events comes back as a few thousand rows.
    events = (
        sa.select(i.municipality_code, e.effective_date, sa.func.count())
        .join_from(
            registry.feed_events, registry.insurers, i.insurer_number == e.insurer_number
        )  # fmt: skip
        .where(
            loaded,
            e.kind.in_(COVERAGE_EVENTS),
            i.kind == MUNICIPAL_KIND,
            i.municipality_code.is_not(None),
        )
        .group_by(i.municipality_code, e.effective_date)
    )
    charged = sa.select(d.municipality, d.fiscal_year).distinct()
    with engine.connect() as connection:
        years: dict[str, set[int]] = {}
        for municipality, year in connection.execute(charged):
            years.setdefault(municipality, set()).add(int(year))
        found = connection.execute(events).all() if years else []
    counts: dict[tuple[str, int], int] = {}
    for municipality, effective, count in found:
        first = FiscalYear.of(effective).year
        for year in years.get(municipality, ()):
            if year >= first:
                counts[(municipality, year)] = counts.get((municipality, year), 0) + int(count)
    return [FeedTouch(m, y, n) for (m, y), n in sorted(counts.items())]


def reassess_after_feed(
    engine: sa.Engine,
    after: int,
    decided_on: dt.date,
    *,
    again: Collection[str] = (),
    exception: PeriodLimitException | None = None,
) -> list[ReassessmentRun]:
    """更正, decided on ``decided_on``, of every municipality-year with 調定 that feed files
    loaded after position ``after``, or loaded before with a SHA-256 in ``again``, reach
    (:func:`touched_years`); one :func:`reassess` run each, refusals listed in the run.
    PremiumRuleError when a year's rule file is gone."""
    return [
        reassess(engine, touch.municipality, touch.fiscal_year, decided_on, exception=exception)
        for touch in touched_years(engine, after, again)
    ]
