"""The V08 archives of the synthetic checkups before they are written: which documents go
together (institution × fiscal year × insurer, checkups and guidance apart), the archive and
document names the V08 writer gives them, the 同日分割回数, the 受診券整理番号 of 国保
members, and where the planted wrong judgements end up.

It builds on :mod:`kokuho.synth._checkups_schedule` (who, when, where) and
:mod:`kokuho.synth._checkups_documents` (what each document says); writing the archives to
disk is :mod:`kokuho.synth._checkups`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kokuho.checkups import Checkup, Guidance, Items
from kokuho.synth._checkups_documents import (
    Observations,
    build_checkup,
    build_guidance,
    observation_rows,
    receiver_number,
)
from kokuho.synth._checkups_schedule import Simulation, Year
from kokuho.synth._checkups_values import KOKUHO_LIKE, load_distributions

__all__ = ["Archive", "PlantedJudgement", "archives", "document_name"]


@dataclass(frozen=True, slots=True)
class PlantedJudgement:
    """One institution judgement planted wrong: where it is and what it should say."""

    fiscal_year: int
    archive: str  # the zip's file name
    document: str  # the document's path under the archive's root folder (DATA/h….xml)
    item: str  # the item code, 9N501… or 9N506…
    reported: int
    expected: int


@dataclass(frozen=True, slots=True)
class Archive:
    """What one V08 archive holds, before it is written."""

    sender: str  # 健診機関番号 (提出元機関番号)
    receiver: str  # 保険者番号, 8 digits (提出先機関番号)
    fiscal_year: int
    kind: str  # 実施区分: 1 特定健診, 2 特定保健指導
    created: dt.datetime
    split: int  # 同日分割回数
    checkups: tuple[Checkup, ...]
    guidance: tuple[Guidance, ...]
    planted: tuple[PlantedJudgement, ...] = ()

    @property
    def name(self) -> str:
        """``{提出元機関番号10}_{提出先機関番号8}_{YYYYMMDD}{同日分割回数}_{実施区分}.zip``
        (checkups-claims.md §2.2), the name the V08 writer gives it."""
        return f"{self.sender}_{self.receiver}_{self.created:%Y%m%d}{self.split}_{self.kind}.zip"


def document_name(archive: Archive | tuple[str, dt.datetime, int, str], serial: int) -> str:
    """``DATA/`` + ``h`` (checkup) or ``g`` (guidance) + 送信元 + 作成日 + 同日分割回数 + 実施区分
    + 連番 (5 digits, from 1 in each archive): the path, under the archive's root folder, that
    the V08 writer gives the document and the reader reports as ``Checkup.document``."""
    if isinstance(archive, Archive):
        sender, created, split, kind = archive.sender, archive.created, archive.split, archive.kind
    else:
        sender, created, split, kind = archive
    prefix = "h" if kind == "1" else "g"
    return f"DATA/{prefix}{sender}{created:%Y%m%d}{split}{kind}{serial:05d}.xml"


def archives(sim: Simulation, *, documents: bool = True) -> Iterator[Archive]:
    """The archives of the run, one fiscal year after the other: for each year, the
    checkup archives (institution × insurer), then the guidance archives.

    Checkup archives are made on 20 April after the fiscal year; guidance archives on the
    day guidance of the year is reported (``report_month`` of the next year, or the last
    simulated day). Documents are in exam order. Without ``documents`` the archives come
    empty but with their names and planted judgements (what a run without a writer needs)."""
    d = load_distributions()
    observations = Observations(str(d.node("quality", "null_flavor")))
    world = sim.world
    tickets: Counter[str] = Counter()
    used: set[tuple[str, str, dt.date, str]] = set()

    def split(sender: str, receiver: str, created: dt.datetime, kind: str) -> int:
        # 同日分割回数: 0, unless an archive of the same name was made already (two short
        # fiscal years reported on the same last day).
        for number in range(10):
            key = (sender, receiver, created.date(), f"{number}{kind}")
            if key not in used:
                used.add(key)
                return number
        raise ValueError(f"more than 10 archives from {sender} to {receiver} on one day")

    for year in sim.years:
        created = dt.datetime(year.fiscal_year + 1, 4, 20, 9, 0)
        report = dt.date.fromordinal(year.guidance_report)
        made = dt.datetime(report.year, report.month, report.day, 17, 0)
        rows_of = observation_rows(sim, year, observations, d) if documents else []
        insurer = np.array(world.c_ins, dtype=np.int64)[year.cid]
        keys = year.institution * 1000 + insurer
        order = np.lexsort((year.pid, year.exam, keys))
        change = np.flatnonzero(np.diff(keys[order]) != 0) + 1
        bounds = [0, *change.tolist(), len(order)] if len(order) else [0]
        for first, last in zip(bounds[:-1], bounds[1:], strict=True):
            rows = order[first:last]
            institution = sim.institutions[int(year.institution[rows[0]])]
            receiver = receiver_number(world.ins_number[int(insurer[rows[0]])])
            number = split(institution.code, receiver, created, "1")
            head = (institution.code, created, number, "1")
            built: list[Checkup] = []
            wrong: list[PlantedJudgement] = []
            archive = Archive(institution.code, receiver, year.fiscal_year, "1", created, number,
                              (), ())  # fmt: skip
            for serial, row in enumerate(rows.tolist(), start=1):
                name = document_name(head, serial)
                wrong += _planted(year, row, archive.name, name)
                if not documents:
                    continue
                ticket = None
                if year.group[row] == KOKUHO_LIKE:
                    # 受診券整理番号 (11 digits): the fiscal year, then a serial per insurer.
                    tickets[receiver] += 1
                    ticket = f"{year.fiscal_year % 100:02d}{tickets[receiver]:09d}"
                built.append(
                    build_checkup(world, year, row, name, institution.code, receiver, rows_of[row],
                             ticket)
                )  # fmt: skip
            yield Archive(
                institution.code, receiver, year.fiscal_year, "1", created, number,
                tuple(built), (), tuple(wrong),
            )  # fmt: skip
        guided = order[year.guidance_start[order] > 0]
        g_keys = keys[guided]
        for key in sorted(set(g_keys.tolist())):
            rows = guided[g_keys == key]
            institution = sim.institutions[int(year.institution[rows[0]])]
            receiver = receiver_number(world.ins_number[int(insurer[rows[0]])])
            number = split(institution.code, receiver, made, "2")
            head = (institution.code, made, number, "2")
            records = [
                build_guidance(sim, year, row, document_name(head, serial), institution)
                for serial, row in enumerate(rows.tolist(), start=1)
                if documents
            ]
            yield Archive(
                institution.code, receiver, year.fiscal_year, "2", made, number, (),
                tuple(records),
            )  # fmt: skip


def _planted(year: Year, row: int, archive: str, document: str) -> list[PlantedJudgement]:
    found = []
    for code, reported, expected in (
        (Items.METABOLIC[0], year.reported_metabolic, year.judgement.metabolic),
        (Items.GUIDANCE_LEVEL[0], year.reported_level, year.judgement.level),
    ):
        if reported[row] != expected[row]:
            found.append(
                PlantedJudgement(year.fiscal_year, archive, document, code, int(reported[row]),
                                 int(expected[row]))
            )  # fmt: skip
    return found
