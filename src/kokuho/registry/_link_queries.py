"""Reading the My Number linkage: the review queue, a number's verified holder, a person's
link status. Writing is in ``_linkage`` and ``_link_checks``."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import sqlalchemy as sa

from kokuho.ids import InsuredId, InsurerNumber
from kokuho.registry._bind import reading
from kokuho.registry._link_checks import Difference
from kokuho.registry._tables import coverages, mynumber_requests, person_mynumbers

_r = mynumber_requests.c


@dataclass(frozen=True, slots=True)
class ReviewItem:
    request_id: int
    insured: InsuredId
    source: str
    submitted_at: dt.datetime
    reasons: list[str]
    differences: list[Difference]
    #: The member the insured number names (None when the register has no such member):
    #: whose data the listing shows, for the audit log.
    person_id: int | None = None


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """A person's My Number link: usable only when ``linked``; ``in_review`` counts the open
    requests for any of the person's insured numbers."""

    person_id: int
    linked: bool
    verified_at: dt.datetime | None
    in_review: int


def _member_person() -> sa.ScalarSelect[int]:
    """The person a request's insured number names; NULL when no member has it."""
    c = coverages.c
    return (
        sa.select(sa.func.min(c.person_id))
        .where(c.insurer_number == _r.insurer_number, c.symbol == _r.symbol,
               c.number == _r.number, c.branch == _r.branch)
        .scalar_subquery()
    )  # fmt: skip


def review_queue(bind: sa.Engine | sa.Connection, insurer: str | None = None) -> list[ReviewItem]:
    """The requests waiting for review, oldest first, optionally of one insurer only."""
    query = (
        sa.select(mynumber_requests, _member_person().label("person_id"))
        .where(_r.status == "review")
        .order_by(_r.request_id)
    )
    if insurer is not None:
        query = query.where(_r.insurer_number == InsurerNumber.parse(insurer).value)
    items: list[ReviewItem] = []
    with reading(bind) as connection:
        for row in connection.execute(query):
            findings = json.loads(row.findings)
            items.append(
                ReviewItem(
                    request_id=row.request_id,
                    insured=InsuredId(row.insurer_number, row.symbol, row.number, row.branch),
                    source=row.source,
                    submitted_at=row.submitted_at,
                    reasons=[f["reason"] for f in findings if "reason" in f],
                    differences=[
                        Difference(f["item"], f["register"], f["resident"])
                        for f in findings
                        if "item" in f
                    ],
                    person_id=row.person_id,
                )
            )
    return items


def request_person(bind: sa.Engine | sa.Connection, request_id: int) -> int | None:
    """The person a request's insured number names (None for an unknown request or member)."""
    query = sa.select(_member_person()).select_from(mynumber_requests)
    with reading(bind) as connection:
        found: int | None = connection.execute(
            query.where(_r.request_id == request_id)
        ).scalar_one_or_none()
    return found


def person_for_mynumber_hmac(bind: sa.Engine | sa.Connection, digest: str) -> int | None:
    """The person a verified link names for this number hash; None when there is none (a
    request in review is not a link)."""
    with reading(bind) as connection:
        return connection.execute(
            sa.select(person_mynumbers.c.person_id).where(
                person_mynumbers.c.mynumber_hmac == digest
            )
        ).scalar_one_or_none()


def link_status(bind: sa.Engine | sa.Connection, person_id: int) -> LinkStatus:
    """Whether a person has a usable My Number link, and how many requests wait for review."""
    c = coverages.c
    tuples = (
        sa.select(c.insurer_number, c.symbol, c.number, c.branch)
        .where(c.person_id == person_id)
        .distinct()
        .subquery()
    )
    open_requests = (
        sa.select(sa.func.count())
        .select_from(mynumber_requests)
        .join(
            tuples,
            sa.and_(
                _r.insurer_number == tuples.c.insurer_number,
                _r.symbol == tuples.c.symbol,
                _r.number == tuples.c.number,
                _r.branch == tuples.c.branch,
            ),
        )
        .where(_r.status == "review")
    )
    with reading(bind) as connection:
        verified = connection.execute(
            sa.select(person_mynumbers.c.verified_at).where(
                person_mynumbers.c.person_id == person_id
            )
        ).scalar_one_or_none()
        waiting = connection.execute(open_requests).scalar_one()
    return LinkStatus(person_id, verified is not None, verified, waiting)
