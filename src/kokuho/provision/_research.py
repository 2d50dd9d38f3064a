"""The register's persons as a research store holds them (研究用データ): a provision's ID, sex,
生年月 and 5-year band, 市区町村 code; no name, number, exact birth date or address.

The ID is ID5-like (the oldest individual insured number, kokuho.provision._pseudonym) re-keyed
under the provision's key, so it is stable across changes of insurer and name and unrelated to
any other provision's. The 市区町村 is the resident register's (住民基本台帳), found through the
verified My Number link or else the five-item match key; None for a person not found there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from kokuho.provision._generalise import age_band_on, birth_month
from kokuho.provision._pseudonym import id5, oldest_insured_numbers, rekey
from kokuho.provision._scan import refuse_identifiers
from kokuho.registry import tables


@dataclass(frozen=True, slots=True)
class ResearchPerson:
    """One person of an extract."""

    pid: str
    sex: int
    birth_month: str
    age_band: str
    municipality: str | None


def research_persons(
    connection: sa.Connection,
    *,
    source_key: bytes,
    provision_key: bytes,
    on: dt.date,
    top: int = 100,
) -> list[ResearchPerson]:
    """Every person with a coverage, generalised (module docstring), ages taken on ``on``.
    The rows pass :func:`refuse_identifiers` before they are returned."""
    p, pm, r = tables.persons, tables.person_mynumbers, tables.residents
    linked = sa.select(r.c.municipality_code).where(
        r.c.resident_id == sa.select(pm.c.resident_id).where(pm.c.person_id == p.c.person_id)
        .scalar_subquery()
    ).scalar_subquery()  # fmt: skip
    matched = (
        sa.select(sa.func.min(r.c.municipality_code))
        .where(r.c.match_key == p.c.match_key)
        .scalar_subquery()
    )
    rows = connection.execute(
        sa.select(
            p.c.person_id, p.c.birth_date, p.c.sex, sa.func.coalesce(linked, matched)
        ).order_by(p.c.person_id)
    ).all()  # fmt: skip
    oldest = oldest_insured_numbers(connection)
    out = [
        ResearchPerson(
            rekey(provision_key, id5(source_key, oldest[person_id])),
            sex,
            birth_month(born),
            age_band_on(born, on, top=top),
            municipality,
        )
        for person_id, born, sex, municipality in rows
        if person_id in oldest  # a record merged into another has no coverage of its own
    ]
    refuse_identifiers(
        {
            "pid": [x.pid for x in out],
            "sex": [x.sex for x in out],
            "birth_month": [x.birth_month for x in out],
            "age_band": [x.age_band for x in out],
            "municipality": [x.municipality for x in out],
        }
    )
    return out
