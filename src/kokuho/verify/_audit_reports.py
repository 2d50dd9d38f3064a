"""Reading the audit log: a person's own access history (as マイナポータル shows it) and
institutions whose checking departs from their own pattern."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from kokuho.verify._tables import audit_log, institutions


@dataclass(frozen=True)
class AccessEntry:
    """One access (アクセス記録): ``actor`` is who acted, an institution's credential id
    (``kc_…``) or a dashboard user (``dashboard:{user}``)."""

    at: dt.datetime
    institution_code: str | None
    institution_name: str | None
    purpose: str
    action: str
    outcome: str
    actor: str

    @property
    def who(self) -> str:
        """The institution (name and 医療機関コード) and the actor, as a person reads them."""
        place = self.institution_name or self.institution_code
        if place and self.institution_name and self.institution_code:
            place = f"{self.institution_name} ({self.institution_code})"
        return f"{place} [{self.actor}]" if place else self.actor


def access_history(engine: sa.Engine, person_id: int, *, limit: int = 1000) -> list[AccessEntry]:
    """Who looked at this person's data, when and why, newest first."""
    a = audit_log.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                a.at,
                a.institution_code,
                institutions.c.name,
                a.purpose,
                a.action,
                a.outcome,
                a.actor,
            )  # fmt: skip
            .outerjoin(institutions, institutions.c.institution_code == a.institution_code)
            .where(a.person_id == person_id)
            .order_by(a.seq.desc())
            .limit(limit)
        ).all()
    return [AccessEntry(*row) for row in rows]


@dataclass(frozen=True)
class Anomaly:
    institution_code: str
    day: dt.date
    persons: int
    usual: float  # median distinct persons a day over the look-back window


def anomalies(
    engine: sa.Engine, *, since: dt.date, until: dt.date, window_days: int = 28,
    factor: float = 3.0, minimum_excess: int = 30,
) -> list[Anomaly]:  # fmt: skip
    """Days on which an institution checked far more distinct people than its own median of
    the preceding ``window_days`` (more than ``factor`` times it and by at least
    ``minimum_excess``). These thresholds are kokuho's heuristic, not an official rule."""
    a = audit_log.c
    day = sa.func.date(a.at)
    start = since - dt.timedelta(days=window_days)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(a.institution_code, day.label("day"),
                      sa.func.count(sa.distinct(a.person_id)).label("persons"))
            .where(a.action.like("check%"), a.institution_code.is_not(None),
                   a.person_id.is_not(None),
                   a.at >= dt.datetime.combine(start, dt.time(), dt.UTC),
                   a.at < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC))
            .group_by(a.institution_code, day)
        ).all()  # fmt: skip
    daily: dict[str, dict[dt.date, int]] = defaultdict(dict)
    for row in rows:
        value = row.day if isinstance(row.day, dt.date) else dt.date.fromisoformat(str(row.day))
        daily[row.institution_code][value] = row.persons
    found = []
    for institution, counts in sorted(daily.items()):
        for current in sorted(d for d in counts if since <= d <= until):
            history = [
                counts.get(current - dt.timedelta(days=k), 0) for k in range(1, window_days + 1)
            ]
            active = [n for n in history if n] or [0]
            usual = statistics.median(active)
            persons = counts[current]
            if persons > factor * usual and persons - usual >= minimum_excess:
                found.append(Anomaly(institution, current, persons, usual))
    return found
