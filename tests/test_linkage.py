"""My Number linkage: a link only when all five items match; everything else is reviewed."""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.ids import MyNumber
from kokuho.registry import tables
from kokuho.registry._errors import FileRejected
from kokuho.registry._link_checks import (
    NO_MEMBER,
    NO_RESIDENT,
    NUMBER_LINKED_TO_OTHER_PERSON,
    PERSON_HAS_OTHER_NUMBER,
    Difference,
)
from kokuho.registry._link_queries import link_status, person_for_mynumber_hmac, review_queue
from kokuho.registry._linkage import (
    link_submissions,
    recheck,
    reject,
)
from kokuho.registry._merge import person_merges_of
from kokuho.registry._normalize import match_key
from kokuho.registry._residents import load_residents
from tests.test_residents import assert_no_clear_number, resident
from tests.test_residents import write as write_residents

KOKUHO = "370015"  # 香川 37, 001, check digit 5
KYOKAI = "01370014"  # 法別 01, 香川 37, 001, check digit 4
ITEMS = ("name_kanji", "name_kana", "birth_date", "sex", "address")
TARO = {
    "name_kanji": "讃岐 太郎",
    "name_kana": "サヌキ タロウ",
    "birth_date": "1970-05-15",
    "sex": "1",
    "address": "香川県高松市番町四丁目1番10号",
}
#: One other value per item, each a difference of substance.
OTHER = {
    "name_kanji": "讃岐 次郎",
    "name_kana": "サヌキ ジロウ",
    "birth_date": "1970-05-16",
    "sex": "2",
    "address": "香川県高松市番町四丁目1番11号",
}


@pytest.fixture
def insurers(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as connection:
        connection.execute(
            tables.insurers.insert(),
            [
                {"insurer_number": KOKUHO, "name": "高松市国民健康保険",
                 "kind": "kokuho_municipal", "prefecture": "37", "municipality_code": "372013"},
                {"insurer_number": KYOKAI, "name": "協会けんぽ 香川支部", "kind": "kyokai",
                 "prefecture": "37", "municipality_code": None},
            ],
        )  # fmt: skip
    return engine


def add_member(
    engine: sa.Engine,
    number: str,
    items: dict[str, str] | None = None,
    *,
    insurer: str = KOKUHO,
    branch: str = "01",
    person_id: int | None = None,
) -> int:
    """A member as the change feed would leave it: a person and a coverage of the tuple."""
    five = dict(items or TARO)
    born = dt.date.fromisoformat(five["birth_date"])
    with engine.begin() as connection:
        if person_id is None:
            person_id = connection.execute(
                tables.persons.insert()
                .returning(tables.persons.c.person_id)
                .values(
                    name_kanji=five["name_kanji"], name_kana=five["name_kana"],
                    birth_date=born, sex=int(five["sex"]), address=five["address"],
                    match_key=match_key(five["name_kanji"], five["name_kana"], born,
                                        int(five["sex"]), five["address"]),
                )
            ).scalar_one()  # fmt: skip
        connection.execute(
            tables.coverages.insert().values(
                person_id=person_id, insurer_number=insurer, symbol="12", number=number,
                branch=branch, acquired_on=dt.date(2020, 4, 1), relationship=1, card_class="01",
            )
        )  # fmt: skip
    assert person_id is not None
    return person_id


def update_person(engine: sa.Engine, person_id: int, **values: Any) -> None:
    """What a change-feed correction does to the member's items."""
    with engine.begin() as connection:
        connection.execute(
            tables.persons.update().where(tables.persons.c.person_id == person_id).values(values)
        )


def add_residents(engine: sa.Engine, key: bytes, tmp_path: Path, *rows: dict[str, str]) -> None:
    load_residents(engine, write_residents(tmp_path / "residents.csv", list(rows)), key)


def submit(tmp_path: Path, rows: list[tuple[str, str]], *, insurer: str = KOKUHO,
           name: str = "submissions.csv") -> Path:  # fmt: skip
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["insurer_number", "symbol", "number", "branch", "mynumber"])
        for number, mynumber in rows:
            writer.writerow([insurer, "12", number, "01", mynumber])
    return path


def requests(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        query = sa.select(tables.mynumber_requests).order_by("request_id")
        return list(connection.execute(query))


def links(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(tables.person_mynumbers)))


def digest(raw: str, key: bytes) -> str:
    return MyNumber.parse(raw).keyed_hash(key)


NUMBER = resident(1)["mynumber"]


def test_all_five_items_match_makes_a_usable_link(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    person = add_member(engine, "1001")
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    report = link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    assert (report.rows, report.linked, report.review, report.errors) == (1, 1, 0, [])
    (link,) = links(engine)
    assert (link.person_id, link.resident_id) == (person, "00000000001")
    assert link.mynumber_hmac == digest(NUMBER, mynumber_key)
    (request,) = requests(engine)
    assert (request.status, json.loads(request.findings)) == ("linked", [])
    assert link.request_id == request.request_id
    assert request.source == "submissions.csv:2"
    assert person_for_mynumber_hmac(engine, digest(NUMBER, mynumber_key)) == person
    status = link_status(engine, person)
    assert status.linked and status.verified_at is not None and status.in_review == 0
    assert_no_clear_number(engine, [NUMBER])


@pytest.mark.parametrize("item", ITEMS)
def test_four_of_five_is_not_enough(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path, item: str
) -> None:
    engine = insurers
    person = add_member(engine, "1001", {**TARO, item: OTHER[item]})
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    report = link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    assert (report.linked, report.review) == (0, 1)
    assert links(engine) == []
    assert person_for_mynumber_hmac(engine, digest(NUMBER, mynumber_key)) is None
    (waiting,) = review_queue(engine)
    as_stored = int if item == "sex" else str
    expected = Difference(item, as_stored(OTHER[item]))
    assert waiting.differences == [expected]
    assert waiting.reasons == []
    status = link_status(engine, person)
    assert not status.linked and status.in_review == 1


def test_notation_only_differences_still_link(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    add_member(
        engine,
        "1001",
        {"name_kanji": "髙橋 一郎", "name_kana": "ﾀｶﾊｼ ｲﾁﾛｳ", "birth_date": "1960-01-02",
         "sex": "1", "address": "高松市番町4-1-10"},
    )  # fmt: skip
    add_residents(
        engine,
        mynumber_key,
        tmp_path,
        resident(1, name_kanji="高橋　一郎", name_kana="タカハシ　イチロウ",
                 birth_date="3350102", address="香川県高松市番町四丁目１番１０号"),
    )  # fmt: skip
    report = link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    assert (report.linked, report.review) == (1, 0)


def test_a_typo_in_the_number_is_a_masked_row_error(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    add_member(engine, "1001")
    add_member(engine, "1002", OTHER)
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    typo = NUMBER[:11] + str((int(NUMBER[11]) + 1) % 10)
    path = submit(tmp_path, [("1001", NUMBER), ("1002", typo)])
    with pytest.raises(FileRejected) as rejected:
        link_submissions(engine, path, mynumber_key)
    (error,) = rejected.value.errors
    assert (error.file, error.line, error.field) == (str(path), 3, "mynumber")
    assert typo not in str(rejected.value) and typo[-4:] in error.reason
    assert requests(engine) == [] and links(engine) == []  # the good row waits too


def test_a_number_that_belongs_to_someone_else_is_reviewed(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    add_member(engine, "1001")
    hanako = {
        "name_kanji": "丸亀 花子",
        "name_kana": "マルガメ ハナコ",
        "birth_date": "1985-11-03",
        "sex": "2",
        "address": "香川県丸亀市大手町2-4-21",
    }
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO), resident(2, **hanako))
    wrong = resident(2)["mynumber"]
    report = link_submissions(engine, submit(tmp_path, [("1001", wrong)]), mynumber_key)
    assert (report.linked, report.review) == (0, 1)
    (waiting,) = review_queue(engine)
    assert [d.item for d in waiting.differences] == list(ITEMS)
    assert waiting.differences[0] == Difference("name_kanji", "讃岐 太郎")
    assert links(engine) == []


def test_unknown_number(insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path) -> None:
    engine = insurers
    add_member(engine, "1001")
    report = link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    assert report.review == 1
    (waiting,) = review_queue(engine)
    assert (waiting.reasons, waiting.differences) == ([NO_RESIDENT], [])


def test_a_second_record_verified_on_the_same_number_is_merged(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    first = add_member(engine, "1001")
    # A second person record with the very same five items (two insurers' records that the
    # register has not joined): verified on the same number, it is the same human. The
    # number never becomes a second link; the record is absorbed into the link holder.
    second = add_member(engine, "77", insurer=KYOKAI)
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    report = link_submissions(
        engine, submit(tmp_path, [("77", NUMBER)], insurer=KYOKAI, name="k.csv"), mynumber_key
    )
    assert (report.linked, report.review, report.merged) == (1, 0, 1)
    assert review_queue(engine) == []
    assert [link.person_id for link in links(engine)] == [first]
    (merge,) = person_merges_of(engine)
    assert (merge.absorbed_person_id, merge.into_person_id) == (second, first)
    with engine.connect() as connection:
        owners = connection.execute(sa.select(tables.coverages.c.person_id)).scalars().all()
        kept = connection.scalar(
            sa.select(sa.func.count()).where(tables.persons.c.person_id == second)
        )
    assert owners == [first, first] and kept == 1  # the absorbed row is kept, not deleted
    (request,) = [r for r in requests(engine) if r.insurer_number == KYOKAI]
    assert request.status == "linked" and f"person {second} merged into {first}" in (
        request.decided_by
    )


@pytest.mark.parametrize("item", ITEMS)
def test_no_merge_on_fewer_than_five_items(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path, item: str
) -> None:
    engine = insurers
    first = add_member(engine, "1001")
    add_member(engine, "77", {**TARO, item: OTHER[item]}, insurer=KYOKAI)
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    report = link_submissions(
        engine, submit(tmp_path, [("77", NUMBER)], insurer=KYOKAI, name="k.csv"), mynumber_key
    )
    assert (report.linked, report.review, report.merged) == (0, 1, 0)
    (waiting,) = review_queue(engine)
    assert waiting.reasons == [NUMBER_LINKED_TO_OTHER_PERSON]
    assert [d.item for d in waiting.differences] == [item]
    assert [link.person_id for link in links(engine)] == [first]
    assert person_merges_of(engine) == []


def test_no_merge_of_a_record_linked_to_another_number(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    add_member(engine, "1001")
    add_member(engine, "77", insurer=KYOKAI)
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO), resident(2, **TARO))
    link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    other = resident(2)["mynumber"]
    link_submissions(
        engine, submit(tmp_path, [("77", other)], insurer=KYOKAI, name="k1.csv"), mynumber_key
    )
    report = link_submissions(
        engine, submit(tmp_path, [("77", NUMBER)], insurer=KYOKAI, name="k2.csv"), mynumber_key
    )
    assert (report.review, report.merged) == (1, 0)
    (waiting,) = review_queue(engine)
    assert waiting.reasons == [NUMBER_LINKED_TO_OTHER_PERSON, PERSON_HAS_OTHER_NUMBER]
    assert len(links(engine)) == 2 and person_merges_of(engine) == []


def test_a_person_already_linked_to_another_number(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    add_member(engine, "1001")
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO), resident(2, **TARO))
    link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    second = resident(2)["mynumber"]
    report = link_submissions(
        engine, submit(tmp_path, [("1001", second)], name="2.csv"), mynumber_key
    )
    assert report.review == 1
    (waiting,) = review_queue(engine)
    assert waiting.reasons == [PERSON_HAS_OTHER_NUMBER]
    assert len(links(engine)) == 1


def test_the_same_person_through_two_insured_numbers(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    person = add_member(engine, "1001")
    add_member(engine, "77", insurer=KYOKAI, person_id=person)
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    report = link_submissions(
        engine, submit(tmp_path, [("77", NUMBER)], insurer=KYOKAI, name="k.csv"), mynumber_key
    )
    assert report.linked == 1 and len(links(engine)) == 1 and len(requests(engine)) == 2


def test_several_periods_of_one_tuple_name_one_person(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    person = add_member(engine, "1001")
    with engine.begin() as connection:
        connection.execute(
            tables.coverages.update().values(lost_on=dt.date(2021, 3, 31), loss_reason="03")
        )
        connection.execute(
            tables.coverages.insert().values(
                person_id=person, insurer_number=KOKUHO, symbol="12", number="1001",
                branch="01", acquired_on=dt.date(2022, 1, 1), relationship=1, card_class="01",
            )
        )  # fmt: skip
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    report = link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    assert report.linked == 1


def test_resubmitting_adds_no_request_and_rechecks_review(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    person = add_member(engine, "1001", {**TARO, "name_kana": "サヌキ タロ"})
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    path = submit(tmp_path, [("1001", NUMBER)])
    assert link_submissions(engine, path, mynumber_key).review == 1
    again = link_submissions(engine, path, mynumber_key)
    assert (again.linked, again.review) == (0, 1) and len(requests(engine)) == 1

    update_person(engine, person, name_kana="サヌキ タロウ")  # the insurer's correction
    fixed = link_submissions(engine, path, mynumber_key)
    assert (fixed.linked, fixed.review) == (1, 0)
    (request,) = requests(engine)
    assert request.status == "linked" and request.decided_at is not None
    assert len(links(engine)) == 1

    last = link_submissions(engine, path, mynumber_key)
    assert (last.linked, last.already_linked) == (0, 1) and len(requests(engine)) == 1


def test_recheck_links_what_now_matches(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    moved = add_member(engine, "1001", {**TARO, "address": "香川県高松市丸の内1-1"})
    other = add_member(engine, "1002", {**OTHER})
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO), resident(2, **TARO))
    path = submit(tmp_path, [("1001", NUMBER), ("1002", resident(2)["mynumber"])])
    assert link_submissions(engine, path, mynumber_key).review == 2
    counts = recheck(engine)
    assert (counts.checked, counts.linked, counts.review) == (2, 0, 2)

    update_person(engine, moved, address="高松市番町4丁目1-10")
    counts = recheck(engine)
    assert (counts.checked, counts.linked, counts.review) == (2, 1, 1)
    assert link_status(engine, moved).linked and not link_status(engine, other).linked
    (waiting,) = review_queue(engine)
    with pytest.raises(ValueError, match="not in review"):
        recheck(engine, waiting.request_id - 1)
    assert recheck(engine, waiting.request_id).checked == 1


def test_recheck_updates_what_differs(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    person = add_member(engine, "1001", {**TARO, "sex": "2", "address": "丸亀市"})
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    assert [d.item for d in review_queue(engine)[0].differences] == ["sex", "address"]
    update_person(engine, person, sex=1)
    recheck(engine)
    assert [d.item for d in review_queue(engine)[0].differences] == ["address"]


def test_reject_closes_a_request(insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path) -> None:
    engine = insurers
    add_member(engine, "1001", {**TARO, "birth_date": "1971-05-15"})
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    path = submit(tmp_path, [("1001", NUMBER)])
    link_submissions(engine, path, mynumber_key)
    (waiting,) = review_queue(engine)
    reject(engine, waiting.request_id, "高松市 保険年金課 山田")
    assert review_queue(engine) == []
    (request,) = requests(engine)
    assert (request.status, request.decided_by) == ("rejected", "高松市 保険年金課 山田")
    again = link_submissions(engine, path, mynumber_key)
    assert (again.previously_rejected, again.review, len(requests(engine))) == (1, 0, 1)
    with pytest.raises(ValueError, match="only requests in review"):
        reject(engine, waiting.request_id, "someone")
    with pytest.raises(ValueError, match="does not exist"):
        reject(engine, 999, "someone")
    with pytest.raises(ValueError, match="who"):
        reject(engine, waiting.request_id, " ")


def test_an_unknown_member_is_reviewed_and_the_rest_of_the_file_loads(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    add_member(engine, "1001")
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    path = submit(tmp_path, [("9999", NUMBER), ("1001", NUMBER)])
    report = link_submissions(engine, path, mynumber_key)
    assert (report.rows, report.linked, report.review, report.errors) == (2, 1, 1, [])
    (waiting,) = review_queue(engine)
    assert waiting.reasons == [NO_MEMBER] and waiting.differences == []
    assert (waiting.insured.number, waiting.source) == ("9999", "submissions.csv:2")
    # The insurer's enrolment reaches the register later: a re-check decides it then (here
    # the number is already another person's, so it stays in review with that reason).
    add_member(engine, "9999", OTHER)
    assert recheck(engine).review == 1
    assert review_queue(engine)[0].reasons == [NUMBER_LINKED_TO_OTHER_PERSON]
    assert [d.item for d in review_queue(engine)[0].differences] == list(ITEMS)


def test_bad_identifiers_name_their_column(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "insurer_number,symbol,number,branch,mynumber\n"
        f"370016,12,1001,01,{NUMBER}\n"
        f"370015,12,1001,1,{NUMBER}\n"
        f"370015,12,,01,{NUMBER}\n",
        encoding="utf-8",
    )
    with pytest.raises(FileRejected) as rejected:
        link_submissions(insurers, path, mynumber_key)
    fields = [(e.line, e.field) for e in rejected.value.errors]
    assert fields == [(2, "insurer_number"), (3, "branch"), (4, "number")]
    assert NUMBER not in str([str(e) for e in rejected.value.errors])


def test_review_queue_by_insurer(insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path) -> None:
    engine = insurers
    add_member(engine, "1001")
    add_member(engine, "77", OTHER, insurer=KYOKAI)
    link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    link_submissions(
        engine, submit(tmp_path, [("77", NUMBER)], insurer=KYOKAI, name="k.csv"), mynumber_key
    )
    assert len(review_queue(engine)) == 2
    (only,) = review_queue(engine, insurer=KYOKAI)
    assert only.insured.insurer == KYOKAI and only.source == "k.csv:2"
    with engine.connect() as connection:  # a caller's own connection works too
        assert len(review_queue(connection, insurer="３７００１５")) == 1


def test_a_member_gone_from_the_register_stays_in_review(
    insurers: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    engine = insurers
    add_member(engine, "1001", {**TARO, "sex": "2"})
    add_residents(engine, mynumber_key, tmp_path, resident(1, **TARO))
    link_submissions(engine, submit(tmp_path, [("1001", NUMBER)]), mynumber_key)
    with engine.begin() as connection:
        connection.execute(tables.coverages.update().values(number="1009"))
    assert recheck(engine).review == 1
    assert review_queue(engine)[0].reasons == [NO_MEMBER]


def test_there_is_no_way_to_link_on_fewer_items() -> None:
    parameters = list(inspect.signature(link_submissions).parameters)
    assert parameters == ["engine", "path", "key", "load_good_rows"]
    assert list(inspect.signature(recheck).parameters) == ["engine", "request_id"]
