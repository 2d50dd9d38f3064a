"""One person per human: namesakes in same-named municipalities of different prefectures are
never joined, linked or overlapped; one human's two records are merged on a verified My
Number (the new 国保 enrolment that arrives before the old insurer's loss)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.ids import InsuredId
from kokuho.registry import (
    find_overlaps,
    import_changes,
    link_submissions,
    load_insurers,
    load_residents,
    person_merges_of,
    recheck,
    review_queue,
    show,
)
from kokuho.registry import tables as t
from tests.feedfiles import KOKUHO, KYOKAI, acquire, change, lose, write_changes, write_csv
from tests.test_linkage import submit
from tests.test_residents import resident
from tests.test_residents import write as write_residents

MARUGAME = "370023"  # a second 市町村国保 (37 + 002 + check digit 3)
D = dt.date.fromisoformat

#: Municipalities of one name in several prefectures.
SAME_NAMED = {
    "府中市": ["東京都", "広島県"],
    "伊達市": ["北海道", "福島県"],
    "朝日町": ["山形県", "富山県", "三重県"],
}
PAIRS = [
    (town, first, second)
    for town, prefectures in SAME_NAMED.items()
    for first, second in itertools.combinations(prefectures, 2)
]


def namesake(prefecture: str, town: str) -> dict[str, str]:
    """The same kanji, kana, birth date, sex and street in ``prefecture``'s ``town``."""
    return {
        "name_kanji": "中村 一郎", "name_kana": "ナカムラ イチロウ", "birth_date": "1975-03-09",
        "sex": "1", "address": f"{prefecture}{town}本町一丁目2番3号",
    }  # fmt: skip


@pytest.fixture
def register(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    rows = [
        {"insurer_number": KOKUHO, "name": "高松市国民健康保険", "kind": "kokuho_municipal",
         "municipality_code": "372013"},
        {"insurer_number": MARUGAME, "name": "丸亀市国民健康保険", "kind": "kokuho_municipal",
         "municipality_code": "372021"},
        {"insurer_number": KYOKAI, "name": "全国健康保険協会 香川支部", "kind": "kyokai"},
    ]  # fmt: skip
    columns = ["insurer_number", "name", "kind", "municipality_code"]
    load_insurers(engine, write_csv(tmp_path / "insurers.csv", columns, rows))
    return engine


def member(insurer: str, number: str) -> InsuredId:
    return InsuredId(insurer, "12", number, "01")


def person_of(engine: sa.Engine, insured: InsuredId) -> int:
    record = show(engine, insured)
    assert record is not None
    return record.person_id


def person_count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(t.persons)) or 0


@pytest.mark.parametrize(("town", "first", "second"), PAIRS)
def test_namesakes_of_two_prefectures_stay_two_persons(
    register: sa.Engine, tmp_path: Path, town: str, first: str, second: str
) -> None:
    rows = [
        acquire("A1", "2024-04-01", number="1001", person=namesake(first, town)),
        acquire("K1", "2024-04-01", insurer=KYOKAI, number="2001",
                person=namesake(second, town)),
    ]  # fmt: skip
    report = import_changes(register, write_changes(tmp_path / "feed.csv", rows))
    assert report.persons_created == 2
    kokuho, kyokai = member(KOKUHO, "1001"), member(KYOKAI, "2001")
    assert person_of(register, kokuho) != person_of(register, kyokai)
    record = show(register, kyokai)
    assert record is not None and record.address.startswith(second)
    assert find_overlaps(register) == []  # no false 資格重複


@pytest.mark.parametrize(("town", "first", "second"), PAIRS)
def test_a_namesakes_number_is_never_linked(
    register: sa.Engine, mynumber_key: bytes, tmp_path: Path, town: str, first: str, second: str
) -> None:
    rows = [acquire("A1", "2024-04-01", number="1001", person=namesake(second, town))]
    import_changes(register, write_changes(tmp_path / "feed.csv", rows))
    # The resident holding the submitted number lives in the other prefecture's town.
    there = resident(1, **namesake(first, town))
    load_residents(register, write_residents(tmp_path / "r.csv", [there]), mynumber_key)
    path = submit(tmp_path, [("1001", there["mynumber"])])
    report = link_submissions(register, path, mynumber_key)
    assert (report.linked, report.review) == (0, 1)
    (waiting,) = review_queue(register)
    assert [d.item for d in waiting.differences] == ["address"]
    with register.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(t.person_mynumbers)) == 0


def test_the_prefecture_counts_only_when_both_records_write_it(
    register: sa.Engine, tmp_path: Path
) -> None:
    tokyo, hiroshima = namesake("東京都", "府中市"), namesake("広島県", "府中市")
    bare = namesake("", "府中市")
    rows = [
        acquire("A1", "2024-04-01", number="1001", person=tokyo),
        # Without a prefecture this record agrees with the Tokyo person only: joined.
        acquire("K1", "2024-04-01", insurer=KYOKAI, number="2001", person=bare),
    ]
    import_changes(register, write_changes(tmp_path / "1.csv", rows))
    joined = person_of(register, member(KYOKAI, "2001"))
    assert joined == person_of(register, member(KOKUHO, "1001"))
    rows = [
        acquire("A2", "2024-04-01", number="1002", person=hiroshima),
        # Now it agrees with both namesakes: which one is a guess, so neither.
        acquire("K2", "2024-04-01", insurer=KYOKAI, number="2002", person=bare),
        # With its prefecture written it is the Hiroshima person.
        acquire("M1", "2024-04-01", insurer=MARUGAME, number="3001", person=hiroshima),
    ]
    import_changes(register, write_changes(tmp_path / "2.csv", rows))
    people = {
        number: person_of(register, member(insurer, number))
        for insurer, number in [(KOKUHO, "1001"), (KOKUHO, "1002"), (KYOKAI, "2002"),
                                (MARUGAME, "3001")]
    }  # fmt: skip
    assert len({people["1001"], people["1002"], people["2002"]}) == 3
    assert people["3001"] == people["1002"]
    assert person_count(register) == 3


def enrol_and_link(
    register: sa.Engine, mynumber_key: bytes, tmp_path: Path, person: dict[str, str]
) -> dict[str, str]:
    """高松's member 1001 holding ``person``'s items, linked to the resident with them."""
    import_changes(register, write_changes(
        tmp_path / "2020-04.csv", [acquire("T1", "2020-04-01", number="1001", person=person)]
    ))  # fmt: skip
    hanako = resident(7, **person, municipality_code="372013")
    load_residents(register, write_residents(tmp_path / "r1.csv", [hanako]), mynumber_key)
    assert link_submissions(
        register, submit(tmp_path, [("1001", hanako["mynumber"])]), mynumber_key
    ).linked
    return hanako


def test_new_enrolment_before_the_old_loss_is_merged_on_the_verified_number(
    register: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    """Moved from 高松 to 丸亀: 丸亀's 資格取得 arrives before 高松's 資格喪失, at the new
    address, so the feed makes a second person; the verified My Number makes them one."""
    old_home = {
        "name_kanji": "讃岐 花子",
        "name_kana": "サヌキ ハナコ",
        "birth_date": "1980-02-29",
        "sex": "2",
        "address": "香川県高松市番町四丁目1番10号",
    }
    new_home = old_home | {"address": "香川県丸亀市大手町二丁目4番21号"}  # fmt: skip
    old_member, new_member = member(KOKUHO, "1001"), member(MARUGAME, "5001")
    hanako = enrol_and_link(register, mynumber_key, tmp_path, old_home)
    number = hanako["mynumber"]

    # She moves: the resident register has the new address; 丸亀 enrols her first.
    moved = hanako | {"address": new_home["address"], "municipality_code": "372021"}
    load_residents(register, write_residents(tmp_path / "r2.csv", [moved]), mynumber_key)
    import_changes(register, write_changes(
        tmp_path / "2024-05.csv",
        [acquire("M1", "2024-05-01", insurer=MARUGAME, number="5001", person=new_home)],
    ))  # fmt: skip
    before = (person_of(register, old_member), person_of(register, new_member))
    assert before[0] != before[1] and person_count(register) == 2
    assert find_overlaps(register) == []  # the split hides the overlap

    path = submit(tmp_path, [("5001", number)], insurer=MARUGAME, name="m.csv")
    report = link_submissions(register, path, mynumber_key)
    assert (report.linked, report.review, report.merged) == (1, 0, 1)
    survivor = person_of(register, old_member)
    assert survivor == before[0] == person_of(register, new_member)
    record = show(register, new_member)
    assert record is not None and record.mynumber_linked
    assert record.address == new_home["address"]  # the items verified just now
    assert [c.insured for c in record.coverages] == [old_member, new_member]
    (merge,) = record.merges
    assert (merge.absorbed_person_id, merge.into_person_id) == (before[1], before[0])
    assert len(merge.coverage_ids) == 1 and "My Number" in merge.reason
    assert person_merges_of(register, before[1]) == [merge]
    (overlap,) = find_overlaps(register)
    assert (overlap.person_id, overlap.overlap_from, overlap.overlap_until) == (
        survivor,
        D("2024-05-01"),
        None,
    )

    # 高松's loss arrives late, dated back: the overlap is May.
    import_changes(register, write_changes(
        tmp_path / "2024-06.csv", [lose("T2", "2024-06-01", number="1001")]
    ))  # fmt: skip
    (overlap,) = find_overlaps(register)
    assert (overlap.overlap_from, overlap.overlap_until, overlap.days) == (
        D("2024-05-01"),
        D("2024-05-31"),
        31,
    )
    # A later enrolment with her current items finds the one person, not the absorbed one.
    import_changes(register, write_changes(
        tmp_path / "2024-07.csv",
        [acquire("K1", "2024-07-01", insurer=KYOKAI, number="77", person=new_home)],
    ))  # fmt: skip
    assert person_of(register, member(KYOKAI, "77")) == survivor
    # The history stays: both person rows, one merge row.
    with register.connect() as connection:
        merges = connection.scalar(sa.select(sa.func.count()).select_from(t.person_merges))
    assert person_count(register) == 2 and merges == 1


def test_the_old_record_verified_later_is_merged_by_a_recheck(
    register: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    """The other order: the new insurer's record is linked first; the old insurer's record
    goes to review (old address) until its 資格喪失 carries the 転出先 address."""
    old_home = {
        "name_kanji": "讃岐 次郎",
        "name_kana": "サヌキ ジロウ",
        "birth_date": "1990-12-01",
        "sex": "1",
        "address": "高松市番町4-1-10",
    }
    new_home = old_home | {"address": "香川県丸亀市大手町2-4-21"}  # fmt: skip
    rows = [
        acquire("T1", "2023-04-01", number="1001", person=old_home),
        acquire("M1", "2024-05-01", insurer=MARUGAME, number="5001", person=new_home),
    ]
    import_changes(register, write_changes(tmp_path / "feed.csv", rows))
    jiro = resident(3, **new_home, municipality_code="372021")
    load_residents(register, write_residents(tmp_path / "r.csv", [jiro]), mynumber_key)
    number = jiro["mynumber"]
    path = submit(tmp_path, [("5001", number)], insurer=MARUGAME, name="m.csv")
    assert link_submissions(register, path, mynumber_key).linked == 1
    report = link_submissions(register, submit(tmp_path, [("1001", number)]), mynumber_key)
    assert (report.review, report.merged) == (1, 0)  # the old address is not verified
    holder = person_of(register, member(MARUGAME, "5001"))
    assert person_of(register, member(KOKUHO, "1001")) != holder

    moved = lose("T2", "2024-06-01", number="1001") | {"address": new_home["address"]}
    import_changes(register, write_changes(tmp_path / "loss.csv", [moved]))
    rechecked = recheck(register)
    assert (rechecked.linked, rechecked.merged, rechecked.review) == (1, 1, 0)
    assert person_of(register, member(KOKUHO, "1001")) == holder
    (overlap,) = find_overlaps(register)
    assert (overlap.person_id, overlap.days) == (holder, 31)
    (merge,) = person_merges_of(register)
    assert merge.into_person_id == holder


#: The outside tester's three 府中市 insurers: 130070 writes addresses without the prefecture.
FUCHU_TOKYO, FUCHU_HIROSHIMA, BARE = "130062", "340067", "130070"
FUCHU = {
    "name_kanji": "府中 太郎", "name_kana": "フチュウ タロウ", "birth_date": "1970-01-01",
    "sex": "1",
}  # fmt: skip
FUCHU_FILES = {
    "nopref": (BARE, "府中市宮西町1-1"),
    "tokyo": (FUCHU_TOKYO, "東京都府中市宮西町1丁目1番地"),
    "hiro": (FUCHU_HIROSHIMA, "広島県府中市宮西町1丁目1番地"),
}


@pytest.fixture
def fuchu(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    rows = [
        {"insurer_number": insurer, "name": f"{insurer} 国民健康保険", "kind": "kokuho_municipal",
         "municipality_code": code}
        for insurer, code in [(FUCHU_TOKYO, "132063"), (FUCHU_HIROSHIMA, "342084"),
                              (BARE, "132071")]
    ]  # fmt: skip
    columns = ["insurer_number", "name", "kind", "municipality_code"]
    load_insurers(engine, write_csv(tmp_path / "insurers.csv", columns, rows))
    return engine


def load_fuchu(engine: sa.Engine, tmp_path: Path, name: str) -> int:
    insurer, address = FUCHU_FILES[name]
    row = acquire(f"E{name}", "2024-04-01", insurer=insurer, number="100",
                  person={**FUCHU, "address": address})  # fmt: skip
    return import_changes(engine, write_changes(tmp_path / f"{name}.csv", [row])).persons_created


@pytest.mark.parametrize("order", list(itertools.permutations(FUCHU_FILES)))
def test_a_record_without_prefecture_never_bridges_two_prefectures(
    fuchu: sa.Engine, tmp_path: Path, order: tuple[str, ...]
) -> None:
    for name in order:
        load_fuchu(fuchu, tmp_path, name)
    tokyo, hiro = (show(fuchu, member(FUCHU_FILES[n][0], "100")) for n in ("tokyo", "hiro"))
    assert tokyo is not None and hiro is not None
    assert tokyo.person_id != hiro.person_id
    assert tokyo.address.startswith("東京都") and hiro.address.startswith("広島県")
    pairs = [{o.first.insured.insurer, o.second.insured.insurer} for o in find_overlaps(fuchu)]
    assert {FUCHU_TOKYO, FUCHU_HIROSHIMA} not in pairs  # no false 資格重複
    bare = person_of(fuchu, member(BARE, "100"))
    # Joined to the first prefecture it met, or alone when both were there before it.
    first = next(n for n in order if n != "nopref")
    if order.index("nopref") < 2:
        assert bare == person_of(fuchu, member(FUCHU_FILES[first][0], "100"))
    else:
        assert bare not in (tokyo.person_id, hiro.person_id)


def test_a_later_record_without_prefecture_does_not_drop_it(
    fuchu: sa.Engine, tmp_path: Path
) -> None:
    load_fuchu(fuchu, tmp_path, "nopref")
    load_fuchu(fuchu, tmp_path, "tokyo")
    # The insurer without prefectures writes the person's address again, as it does.
    again = change("C1", "2024-05-01", insurer=BARE, number="100",
                   address=FUCHU_FILES["nopref"][1])  # fmt: skip
    import_changes(fuchu, write_changes(tmp_path / "again.csv", [again]))
    record = show(fuchu, member(BARE, "100"))
    assert record is not None and record.address.startswith("東京都")
    assert load_fuchu(fuchu, tmp_path, "hiro") == 1


def test_a_joined_person_is_not_linked_to_the_other_prefectures_number(
    fuchu: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    load_fuchu(fuchu, tmp_path, "nopref")
    load_fuchu(fuchu, tmp_path, "tokyo")
    there = resident(1, **FUCHU, address=FUCHU_FILES["hiro"][1], municipality_code="342084")
    load_residents(fuchu, write_residents(tmp_path / "r.csv", [there]), mynumber_key)
    path = submit(tmp_path, [("100", there["mynumber"])], insurer=BARE)
    report = link_submissions(fuchu, path, mynumber_key)
    assert (report.linked, report.review) == (0, 1)


def test_a_merge_keeps_the_prefecture_the_survivor_writes(
    register: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    """Married (a new name) and enrolled by an insurer that writes no prefecture: the merge on
    the verified number takes the new items but keeps 香川県, so the merged person cannot
    join a namesake's record of another prefecture later."""
    old_home = {
        "name_kanji": "讃岐 花子", "name_kana": "サヌキ ハナコ", "birth_date": "1980-02-29",
        "sex": "2", "address": "香川県高松市番町四丁目1番10号",
    }  # fmt: skip
    married = old_home | {"name_kanji": "丸亀 花子", "name_kana": "マルガメ ハナコ"}
    hanako = enrol_and_link(register, mynumber_key, tmp_path, old_home)
    number = hanako["mynumber"]
    load_residents(register, write_residents(tmp_path / "r2.csv", [hanako | married]), mynumber_key)
    bare = married | {"address": "高松市番町4-1-10"}
    import_changes(register, write_changes(
        tmp_path / "2.csv",
        [acquire("M1", "2024-05-01", insurer=MARUGAME, number="5001", person=bare)],
    ))  # fmt: skip
    path = submit(tmp_path, [("5001", number)], insurer=MARUGAME, name="m.csv")
    assert link_submissions(register, path, mynumber_key).merged == 1
    record = show(register, member(MARUGAME, "5001"))
    assert record is not None and record.name_kanji == "丸亀 花子"
    assert record.address == old_home["address"]
