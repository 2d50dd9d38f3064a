"""A small register and 介護 records for the provision workflow's tests, worked by hand:
four persons of 高松市 (two of them 75 or older on 2024-03-31), one 介護 number per certified
person, and 医療 claims under their 国保 numbers; and the setup the workflow's tests share
(the fixtures ``audit`` and ``cat``, registered for every test by tests/conftest.py, and an
application approved by the reviewer 委員 丙)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.care import Certification
from kokuho.cli._provision import ServiceAudit
from kokuho.provision import (
    Application,
    CareService,
    Catalogue,
    MedicalClaim,
    Sources,
    add_reviewer,
    apply,
    catalogue,
    load_sources,
    review,
)
from kokuho.registry import tables

D = dt.date
PERIOD = (D(2023, 4, 1), D(2024, 3, 31))
#: The day the tests apply, review and extract on, the data-use term an approval sets, and
#: the source key of the tests' IDs.
ON = D(2024, 5, 1)
TERM = D(2025, 3, 31)
SOURCE = b"s" * 32
REVIEWER = "委員 丙"
#: person_id, カナ, 生年月日, 性別, 国保 記号・番号. Ages on 2024-03-31 (the period's end):
#: 1 → 80 (1943-05-10); 2 → 75 (born 1949-04-01: the law completes a year at the end of the
#: day before the anniversary, so at the end of 2024-03-31); 3 → 74 (born 1949-04-02); 4 → 44.
PEOPLE = [
    (1, "香川 一郎", "カガワ イチロウ", D(1943, 5, 10), 1, "1001"),
    (2, "香川 花子", "カガワ ハナコ", D(1949, 4, 1), 2, "1002"),
    (3, "讃岐 次郎", "サヌキ ジロウ", D(1949, 4, 2), 1, "1003"),
    (4, "讃岐 三郎", "サヌキ サブロウ", D(1979, 12, 1), 1, "1004"),
]
INSURER = "00370015"
#: The 広域連合 of the register (no members): the provider an 一体的実施 request names.
KOKI = "39370010"


def build_register(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(tables.insurers),
            [{"insurer_number": INSURER, "name": "高松市", "kind": "kokuho_municipal",
              "prefecture": "37", "municipality_code": "372013"},
             {"insurer_number": KOKI, "name": "香川県後期高齢者医療広域連合", "kind": "koki",
              "prefecture": "37", "municipality_code": None}],
        )  # fmt: skip
        connection.execute(
            sa.insert(tables.persons),
            [{"person_id": pid, "name_kanji": kanji, "name_kana": kana, "birth_date": born,
              "sex": sex, "address": "香川県高松市番町1-1", "match_key": f"m{pid}"}
             for pid, kanji, kana, born, sex, _ in PEOPLE],
        )  # fmt: skip
        connection.execute(
            sa.insert(tables.coverages),
            [{"coverage_id": pid, "person_id": pid, "insurer_number": INSURER,
              "symbol": "高松", "number": number, "branch": "00",
              "acquired_on": D(2000, 4, 1), "lost_on": None, "loss_reason": None,
              "relationship": 1, "card_class": "01"}
             for pid, _, _, _, _, number in PEOPLE],
        )  # fmt: skip
        connection.execute(
            sa.insert(tables.residents),
            [{"resident_id": f"R{pid}", "mynumber_hmac": f"{pid}" * 64, "name_kanji": kanji,
              "name_kana": kana, "birth_date": born, "sex": sex,
              "address": "香川県高松市番町1-1", "municipality_code": "372013",
              "match_key": f"m{pid}"}
             for pid, kanji, kana, born, sex, _ in PEOPLE],
        )  # fmt: skip


def certification(pid: int, number: str, level: str, start: dt.date, end: dt.date,
                  kana: str | None = None) -> Certification:  # fmt: skip
    _, kanji, own, born, sex, _ = PEOPLE[pid - 1]
    return Certification("372011", number, kanji, kana or own, born, sex, "香川県高松市番町1-1",
                         level, start, start, end)  # fmt: skip


CERTIFICATIONS = [
    certification(1, "0000000001", "22", D(2023, 4, 1), D(2024, 3, 31)),
    certification(2, "0000000002", "12", D(2023, 10, 1), D(2024, 9, 30)),
]
SERVICES = [
    CareService("カガワ イチロウ", D(1943, 5, 10), 1, D(2023, 6, 1), "15", 7_000),
    CareService("カガワ ハナコ", D(1949, 4, 1), 2, D(2024, 1, 1), "A5", 1_200),
    # outside the period: never extracted
    CareService("カガワ ハナコ", D(1949, 4, 1), 2, D(2024, 4, 1), "A5", 1_200),
]


def claim(pid: int, month: dt.date, points: int, number: str | None = None) -> MedicalClaim:
    _, _, _, born, sex, own = PEOPLE[pid - 1]
    return MedicalClaim(INSURER, "高松", number or own, born, sex, month, "outpatient", 2, points)


CLAIMS = [
    claim(1, D(2023, 5, 1), 1_234),
    claim(3, D(2023, 7, 1), 560),
    claim(4, D(2024, 3, 1), 300),
    claim(4, D(2023, 3, 1), 999),  # before the period
    claim(2, D(2023, 8, 1), 777, number="9999"),  # no coverage has this number: unplaced
]


def application(basis: str = "third_party", **changes: Any) -> Application:
    values: dict[str, Any] = {
        "basis": basis, "applicant": "研究者 甲", "organisation": "香川大学",
        "purpose": "要介護状態と医療費の関係の分析", "public_interest": "介護予防施策の評価",
        "place": "香川県高松市幸町 香川大学 研究室 (施錠管理)",
        "users": ("研究者 甲", "研究者 乙"),
        "requested": {"persons": ("sex", "age_band", "municipality"),
                      "care_certifications": ("care_level",),
                      "care_services": ("service_month", "service_units")},
        "period_from": PERIOD[0], "period_to": PERIOD[1],
    }  # fmt: skip
    values.update(changes)
    return Application(**values)


def items(**tables_: Sequence[str]) -> Mapping[str, tuple[str, ...]]:
    return {t: tuple(i) for t, i in tables_.items()}


@pytest.fixture
def audit(engine: sa.Engine) -> Iterator[ServiceAudit]:
    """The service's audit hook on ``engine``, as the CLI passes it to the workflow."""
    hook = ServiceAudit(engine)
    yield hook
    hook.close()


@pytest.fixture
def cat() -> Catalogue:
    return catalogue()


def all_sources(engine: sa.Engine) -> Sources:
    """The register built, and the sources of an extract from it and the records above."""
    build_register(engine)
    return load_sources(engine, certifications=CERTIFICATIONS, care_services=SERVICES,
                        claims=CLAIMS)  # fmt: skip


def applied(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, *, on: dt.date = ON,
    **changes: Any,
) -> str:  # fmt: skip
    """REVIEWER appointed and ``application(**changes)`` applied for on ``on``; its id."""
    add_reviewer(engine, REVIEWER, on=on, actor="事務局", audit=audit)
    return apply(engine, cat, application(**changes), on=on, audit=audit)


def approved(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, *, on: dt.date = ON,
    reviewed: dt.date = ON, **changes: Any,
) -> str:  # fmt: skip
    """:func:`applied`, then approved whole (every requested item) on ``reviewed`` until
    TERM; its id."""
    pid = applied(engine, cat, audit, on=on, **changes)
    review(engine, cat, pid, reviewer=REVIEWER, decision="approve", minutes="承認",
           on=reviewed, term_until=TERM, audit=audit)  # fmt: skip
    return pid


def approved_with_sources(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, **approval: Any
) -> tuple[str, Sources]:
    """The register built and :func:`approved`, with the sources of its extracts."""
    sources = all_sources(engine)
    return approved(engine, cat, audit, **approval), sources
