"""Who may take a step of a provision (docs/provision.md §5): the review and the revocation
by an appointed reviewer (審査委員) who is neither the applicant nor a named user, the deletion
confirmation (消去の確認) by the applicant or a named user.

Names are compared as :func:`person_key` reads them, not as typed: "研究者　甲" (a full-width
space), "研究者  甲" and "研究者 甲" are one person, so an applicant appointed as a reviewer
under a spacing of their own name cannot review their own application.
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa

from kokuho.provision._tables import provision_reviewers
from kokuho.provision._workflow_model import Provision, ProvisionError


def person_key(name: str) -> str:
    """``name`` as roles compare it: width unified (NFKC), runs of spaces one space, case
    folded."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def is_party(current: Provision, name: str) -> bool:
    """Whether ``name`` is the applicant or a named user of ``current``."""
    key = person_key(name)
    return key in {person_key(p) for p in (current.applicant, *current.users)}


def appointed_reviewer(connection: sa.Connection, name: str) -> str | None:
    """The reviewer ``name`` as appointed (None: not a reviewer)."""
    key = person_key(name)
    names = connection.scalars(sa.select(provision_reviewers.c.name).order_by("name"))
    return next((found for found in names if person_key(found) == key), None)


def reviewer_of(connection: sa.Connection, current: Provision, name: str, act: str) -> str:
    """The appointed reviewer ``name`` (as appointed) who may ``act`` on ``current``: never
    the applicant or a named user."""
    appointed = appointed_reviewer(connection, name)
    if appointed is None:
        raise ProvisionError(f"{name!r} is not a reviewer: only a reviewer may {act}")
    if is_party(current, name):
        raise ProvisionError(
            f"{name!r} applied for or uses {current.provision_id}: they cannot {act} it"
        )
    return appointed


def deletion_party(current: Provision, name: str) -> None:
    """The deletion is the user's statement: the applicant or a named user makes it."""
    if not is_party(current, name):
        raise ProvisionError(
            f"{name!r} is neither the applicant nor a named user of {current.provision_id}: "
            "only they confirm the deletion (消去の確認)"
        )
