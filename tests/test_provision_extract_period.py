"""The extract's ``persons`` holds only persons the register covered (国保資格) at some time in
the provision's data period. Before, it held every person ever in the register: persons who
left years before the period, or joined after it, went out beyond the approval (必要最小限),
and two extracts of one provision differed by whoever joined between them."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from kokuho.cli._provision import ServiceAudit
from kokuho.provision import (
    catalogue,
    extract,
    id2,
    load_sources,
    rekey,
)
from kokuho.registry import tables
from tests.provisioncases import ON, PEOPLE, SOURCE, approved, build_register

D = dt.date


def _coverage(engine: sa.Engine, person: int, acquired: dt.date, lost: dt.date | None) -> None:
    with engine.begin() as connection:
        connection.execute(
            tables.coverages.update()
            .where(tables.coverages.c.person_id == person)
            .values(acquired_on=acquired, lost_on=lost)
        )


def test_persons_outside_the_period_are_not_extracted(
    engine: sa.Engine, audit: ServiceAudit, tmp_path: Path
) -> None:
    build_register(engine)
    _coverage(engine, 3, D(2000, 4, 1), D(2023, 3, 31))  # left the day before the period
    _coverage(engine, 4, D(2024, 4, 1), None)  # joined the day after it
    _coverage(engine, 2, D(2024, 3, 31), None)  # joined on its last day: in
    cat = catalogue()
    pid = approved(engine, cat, audit, requested={"persons": ("sex",)})
    keys = tmp_path / "keys"
    done = extract(engine, cat, pid, load_sources(engine), out=tmp_path, by="事務局", on=ON,
                   audit=audit, source_key=SOURCE, key_folder=keys)  # fmt: skip
    key = (keys / f"provision-{pid}.key").read_text(encoding="ascii")
    expected = {
        rekey(bytes.fromhex(key), id2(SOURCE, kana, born, sex))
        for person, _, kana, born, sex, _ in PEOPLE
        if person in (1, 2)
    }
    with (done.folder / "persons.csv").open(encoding="utf-8", newline="") as handle:
        assert {row["pid"] for row in csv.DictReader(handle)} == expected
