"""資格過誤: each reason on a small register, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.claims import eligibility_errors, register_coverages
from kokuho.registry import import_changes, load_insurers
from tests.claimrows import MemoryLake, claim
from tests.feedfiles import KOKUHO, KYOKAI, TARO, acquire, lose, write_changes, write_insurers

HANAKO = {**TARO, "name_kanji": "讃岐 花子", "name_kana": "サヌキ ハナコ",
          "birth_date": "1972-02-03", "sex": "2"}  # fmt: skip
JIRO = {**TARO, "name_kanji": "讃岐 次郎", "name_kana": "サヌキ ジロウ", "birth_date": "1990-07-07"}
SABURO = {**TARO, "name_kanji": "讃岐 三郎", "name_kana": "サヌキ サブロウ",
          "birth_date": "1995-01-20"}  # fmt: skip


@pytest.fixture
def register(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    """Taro leaves 国保 for 協会けんぽ on 2020-10-01; Hanako loses 国保 on 2020-09-15 with no
    new insurer; Jiro moves from 協会けんぽ to 国保 on 2020-08-10; Saburo stays in 国保."""
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    rows = [
        acquire("T1", "2020-04-01", number="1001"),
        lose("T2", "2020-10-01", number="1001"),
        acquire("T3", "2020-10-01", insurer=KYOKAI, number="2001", branch="00"),
        acquire("H1", "2020-04-01", number="1002", person=HANAKO),
        lose("H2", "2020-09-15", number="1002"),
        acquire("J1", "2019-04-01", insurer=KYOKAI, number="3001", branch="00", person=JIRO),
        lose("J2", "2020-08-10", insurer=KYOKAI, number="3001", branch="00"),
        acquire("J3", "2020-08-10", number="1003", person=JIRO),
        acquire("S1", "2020-04-01", number="1004", person=SABURO),
    ]
    import_changes(engine, write_changes(tmp_path / "changes.csv", rows))
    return engine


def errors_of(engine: sa.Engine, claims: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    found = eligibility_errors(MemoryLake(claims=claims), engine, **kwargs)
    return {e.claim_id: e for e in found}


def test_each_reason_with_the_responsible_insurer(register: sa.Engine) -> None:
    taro, hanako, jiro = TARO["birth_date"], HANAKO["birth_date"], JIRO["birth_date"]
    claims = [
        # Taro: September is covered; November is after the loss and 協会けんぽ covers him.
        claim("t9:1", "2020-09", number="1001", birth_date=taro),
        claim(
            "t11:1",
            "2020-11",
            number="1001",
            birth_date=taro,
            first_day="2020-11-04",
            last_day="2020-11-04",
        ),  # fmt: skip
        # Hanako lost 国保 on 9/15: 9/3–9/14 is covered; 9/15 is not; the whole of September
        # (days unknown) runs past the loss.
        claim(
            "h1:1",
            "2020-09",
            number="1002",
            birth_date=hanako,
            first_day="2020-09-03",
            last_day="2020-09-14",
        ),  # fmt: skip
        claim(
            "h2:1",
            "2020-09",
            number="1002",
            birth_date=hanako,
            first_day="2020-09-15",
            last_day="2020-09-15",
        ),  # fmt: skip
        claim("h3:1", "2020-09", number="1002", birth_date=hanako),
        # Jiro's 国保 starts 8/10: a July claim is before it, 協会けんぽ was responsible.
        claim("j7:1", "2020-07", number="1003", birth_date=jiro),
        claim("j8:1", "2020-08", number="1003", birth_date=jiro, first_day="2020-08-10"),
        claim("j8b:1", "2020-08", number="1003", birth_date=jiro),
        # A number the register does not know.
        claim("x:1", "2020-09", number="9999"),
    ]
    found = errors_of(register, claims)
    assert sorted(found) == ["h2:1", "h3:1", "j7:1", "j8b:1", "t11:1", "x:1"]
    t11 = found["t11:1"]
    assert (t11.reason, t11.lost_on, t11.responsible_insurer) == (
        "superseded", dt.date(2020, 10, 1), KYOKAI,
    )  # fmt: skip
    assert (t11.first_day, t11.service_month) == (dt.date(2020, 11, 4), dt.date(2020, 11, 1))
    for claim_id in ("h2:1", "h3:1"):
        e = found[claim_id]
        assert (e.reason, e.lost_on, e.responsible_insurer) == (
            "lost_before_service", dt.date(2020, 9, 15), None,
        )  # fmt: skip
    for claim_id in ("j7:1", "j8b:1"):
        e = found[claim_id]
        assert (e.reason, e.lost_on, e.responsible_insurer) == ("not_yet_acquired", None, KYOKAI)
    x = found["x:1"]
    assert (x.reason, x.lost_on, x.responsible_insurer) == ("not_found", None, None)
    assert (x.insurer, x.symbol, x.number, x.branch, x.file, x.line) == (
        KOKUHO, "12", "9999", "01", "x", 1,
    )  # fmt: skip


def test_a_claim_without_branch_matches_by_birth_date(register: sa.Engine) -> None:
    saburo = SABURO["birth_date"]
    claims = [
        claim("s1:1", "2020-06", number="1004", branch="", birth_date=saburo),
        claim("s2:1", "2020-06", number="1004", branch="", birth_date="1995-01-21"),
        # Written with the 8-digit form of the 国保 number.
        claim("s3:1", "2020-06", number="1004", insurer=f"00{KOKUHO}", birth_date=saburo),
        claim("s4:1", "2020-06", number="1004", branch="02", birth_date=saburo),
    ]
    found = errors_of(register, claims)
    assert {k: v.reason for k, v in found.items()} == {"s2:1": "not_found", "s4:1": "not_found"}
    assert found["s2:1"].insurer == KOKUHO


def test_months_limit_the_claims_checked(register: sa.Engine) -> None:
    claims = [claim("x9:1", "2020-09", number="9999"), claim("x10:1", "2020-10", number="9999")]
    assert list(errors_of(register, claims, months=["2020-10"])) == ["x10:1"]
    assert errors_of(register, []) == {}


def test_register_coverages_are_fetched_for_the_persons_of_the_numbers(
    register: sa.Engine,
) -> None:
    table = register_coverages(register, [(KOKUHO, "12", "1001"), (KOKUHO, "12", "9999")])
    rows = sorted((r["insurer"], r["number"], r["lost_on"]) for r in table.to_pylist())
    # Taro's 国保 number brings his 協会けんぽ coverage too.
    assert rows == [(KYOKAI, "2001", None), (KOKUHO, "1001", dt.date(2020, 10, 1))]
    assert register_coverages(register, []).num_rows == 0


# -- 薬剤情報 for the eligibility service --------------------------------------------------------
def person_id(engine: sa.Engine, name: str) -> int:
    from kokuho.registry import tables

    with engine.connect() as connection:
        found = connection.scalar(
            sa.select(tables.persons.c.person_id).where(tables.persons.c.name_kanji == name)
        )
    assert isinstance(found, int)
    return found


def test_medication_records_show_the_persons_own_drugs(register: sa.Engine) -> None:
    from kokuho.claims import MedicationRecords
    from tests.claimrows import drug, master

    taro, other = TARO["birth_date"], "1990-01-01"
    rows = {
        # Before the three years (2020-09-21 … 2023-09-20): not shown.
        "old": claim("old:1", "2020-09", number="1001", first_day="2020-09-20", birth_date=taro),
        # The pharmacy filled clinic 3710112345's prescription on 2020-09-21: the first day shown.
        "rx": claim("rx:1", "2020-09", number="1001", kind="pharmacy", setting="pharmacy",
                    institution="0190001", prescriber="3710112345", first_day="2020-09-21",
                    birth_date=taro),
        # After 国保 was lost: his 協会けんぽ claims are his; the old 国保 number's are not shown
        # (a number may be reissued).
        "kyokai": claim("kyokai:1", "2021-02", number="2001", branch="00", insurer=KYOKAI,
                        first_day="2021-02-02", birth_date=taro),
        "late": claim("late:1", "2020-11", number="1001", birth_date=taro),
        # A household member (枝番 02), and a claim without 枝番 of someone born another day.
        "family": claim("family:1", "2020-09", number="1001", branch="02", birth_date=other),
        "nobranch": claim("nobranch:1", "2020-09", number="1001", branch="", birth_date=other),
        "mine": claim("mine:1", "2020-09", number="1001", branch="", birth_date=taro,
                      first_day="2020-09-28"),
    }  # fmt: skip
    drugs = [drug(rows[k], "620000001", 28.0, days_supply=28) for k in rows]
    lake = MemoryLake(claims=list(rows.values()), claim_drugs=drugs,
                      drug_master=[master("620000001", "2149", name="降圧薬錠")])  # fmt: skip
    records = MedicationRecords(register, lake).records(person_id(register, TARO["name_kanji"]),
                                                         dt.date(2023, 9, 20))  # fmt: skip
    assert [(r["date"], r["kind"], r["institution"], r["pharmacy"]) for r in records] == [
        ("2021-02-02", "medical", "0112345", ""),
        ("2020-09-28", "medical", "0112345", ""),
        ("2020-09-21", "pharmacy", "3710112345", "0190001"),
    ]
    assert records[0] == {
        "date": "2021-02-02", "kind": "medical", "code": "620000001", "name": "降圧薬錠",
        "unit": "錠", "quantity": 28.0, "days": 28, "institution": "0112345", "pharmacy": "",
        "service_month": "2021-02",
    }  # fmt: skip
    assert MedicationRecords(register, lake).records(10_000, dt.date(2023, 9, 20)) == []
    assert MedicationRecords(register, MemoryLake()).records(1, dt.date(2023, 9, 20)) == []
