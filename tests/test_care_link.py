"""Care records joined to the register: only when all five basic items agree after the
register's normalisation, a one-item difference reported with the item, several persons or none
refused, claims following their certification, a person with two 介護 numbers found."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from kokuho.care import (
    AMBIGUOUS,
    NO_CERTIFICATION,
    NO_PERSON,
    ONE_ITEM_DIFFERS,
    UNLINKED_CERTIFICATION,
    CareLake,
    link_to_register,
    read_certifications,
)
from kokuho.cli import main
from kokuho.registry import match_key, tables

FIXTURES = Path(__file__).parent / "fixtures" / "care"
D = dt.date


def add_person(
    engine: sa.Engine, kanji: str, kana: str, born: dt.date, sex: int, address: str
) -> int:
    with engine.begin() as connection:
        return int(
            connection.execute(
                tables.persons.insert()
                .returning(tables.persons.c.person_id)
                .values(name_kanji=kanji, name_kana=kana, birth_date=born, sex=sex,
                        address=address, match_key=match_key(kanji, kana, born, sex, address))
            ).scalar_one()
        )  # fmt: skip


def test_links_on_all_five_items_only(engine: sa.Engine) -> None:
    certs = read_certifications(FIXTURES / "certifications.csv")
    # 香川 太郎 as an insurer wrote him: half-width kana, ASCII space, 1-1-1 address — the same
    # person after normalisation.
    taro = add_person(engine, "香川 太郎", "ｶｶﾞﾜ ﾀﾛｳ", D(1940, 1, 5), 1, "香川県高松市番町1-1-1")
    # 山田 花子 with another カナ in the register: four items agree, so review, not a link.
    hanako = add_person(engine, "山田　花子", "ヤマダ　ハナ", D(1930, 3, 10), 2,
                        "香川県高松市番町二丁目2番2号")  # fmt: skip
    # 佐藤 一郎: someone born the same day, different in three items.
    add_person(engine, "佐藤　次郎", "サトウ　ジロウ", D(1945, 7, 7), 1, "香川県丸亀市大手町1-1")
    # A fourth number whose five items two persons share.
    for _ in range(2):
        add_person(engine, "高松　梅", "タカマツ　ウメ", D(1935, 1, 1), 2, "香川県高松市亀井町1-1")
    twin = dataclasses.replace(certs[0], insured_number="0000456789", name_kanji="高松　梅",
                               name_kana="タカマツ　ウメ", birth_date=D(1935, 1, 1), sex=2,
                               address="香川県高松市亀井町1-1")  # fmt: skip
    # 香川 太郎 got a new 介護 number in 2021: both numbers are his.
    renumbered = dataclasses.replace(
        certs[0], insured_number="0000999999", valid_from=D(2021, 1, 1), valid_to=D(2021, 12, 31)
    )
    claims = [("372011", "0000123456"), ("372011", "0000123456"), ("372011", "0000234567"),
              ("372011", "0000000001")]  # fmt: skip
    report = link_to_register(engine, [*certs, twin, renumbered], claims)
    assert report.persons == {("372011", "0000123456"): taro, ("372011", "0000999999"): taro}
    reasons = {(u.insured_number, u.reason, u.items, u.candidate) for u in report.unlinked}
    assert reasons == {
        ("0000234567", ONE_ITEM_DIFFERS, ("name_kana",), hanako),
        ("0000345678", NO_PERSON, (), None),
        ("0000456789", AMBIGUOUS, (), None),
    }
    assert report.claims_linked == 2
    assert report.claims_unlinked == {UNLINKED_CERTIFICATION: 1, NO_CERTIFICATION: 1}
    assert report.several_numbers == {taro: (("372011", "0000123456"), ("372011", "0000999999"))}


def test_the_latest_certification_speaks_for_a_number(engine: sa.Engine) -> None:
    certs = read_certifications(FIXTURES / "certifications.csv")
    taro = add_person(engine, "香川　太郎", "カガワ　タロウ", D(1940, 1, 5), 1,
                      "香川県高松市番町五丁目5番5号")  # fmt: skip
    old = certs[0]  # the address before he moved
    new = dataclasses.replace(old, address="香川県高松市番町五丁目5番5号",
                              valid_from=D(2021, 1, 1), valid_to=D(2021, 12, 31))  # fmt: skip
    assert link_to_register(engine, [new, old]).persons == {("372011", "0000123456"): taro}
    only_old = link_to_register(engine, [old])
    assert [(u.reason, u.items) for u in only_old.unlinked] == [(ONE_ITEM_DIFFERS, ("address",))]


def test_the_cli_links_the_lake(engine: sa.Engine, database_url: str, tmp_path: Path) -> None:
    add_person(
        engine, "香川　太郎", "カガワ　タロウ", D(1940, 1, 5), 1, "香川県高松市番町一丁目1番1号"
    )
    env = {"KOKUHO_HOME": str(tmp_path), "KOKUHO_DATABASE_URL": database_url}
    runner = CliRunner()
    first = runner.invoke(main, ["care", "ingest", str(FIXTURES), "--json"], env=env)
    assert first.exit_code == 0, first.output
    # The folder's certifications.csv is not a 介護給付費明細書 file: left out of the search.
    assert [Path(f["file"]).name for f in json.loads(first.stdout)["files"]] == [
        "claims_202005.csv"
    ]
    assert json.loads(first.stdout)["claims"] == 2
    result = runner.invoke(
        main, ["care", "certifications", str(FIXTURES / "certifications.csv")], env=env
    )
    assert result.exit_code == 0 and "3 certifications" in result.stdout
    again = runner.invoke(
        main, ["care", "certifications", str(FIXTURES / "certifications.csv"), "--json"], env=env
    )
    assert json.loads(again.stdout)["skipped"] == 1
    linked = runner.invoke(main, ["care", "link", "--json"], env=env)
    assert linked.exit_code == 0, linked.output
    document = json.loads(linked.stdout)
    assert (document["numbers_linked"], document["claims_linked"]) == (1, 1)
    assert document["numbers_unlinked"] == {NO_PERSON: 2}
    assert document["claims_unlinked"] == {UNLINKED_CERTIFICATION: 1}
    listed = runner.invoke(main, ["care", "link", "--list"], env=env)
    assert listed.stdout.splitlines() == [
        "1 介護 number(s) linked; not linked: no_person 2",
        "1 claim(s) linked; not linked: unlinked_certification 1",
        "0 person(s) with several 介護 numbers",
        "372011 0000234567: no_person",
        "372011 0000345678: no_person",
    ]
    assert CareLake(tmp_path / "lake").table("care_claims").count().to_pyarrow().as_py() == 2


def test_the_cli_names_bad_records_and_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes((FIXTURES / "claims_202005.csv").read_bytes().replace(b",22,", b",29,"))
    result = CliRunner().invoke(
        main, ["care", "ingest", str(bad)], env={"KOKUHO_HOME": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert f"{bad}:2: (12) 要介護状態区分コード: not a 要介護状態区分コード" in result.stderr
    assert "nothing was loaded" in result.stderr
    assert not (tmp_path / "lake" / "care_manifest.json").exists()


def test_a_record_absorbed_by_a_merge_is_not_a_second_person(engine: sa.Engine) -> None:
    cert = read_certifications(FIXTURES / "certifications.csv")[0]
    items = ("香川　太郎", "カガワ　タロウ", D(1940, 1, 5), 1, "香川県高松市番町一丁目1番1号")
    survivor, absorbed = add_person(engine, *items), add_person(engine, *items)
    assert [u.reason for u in link_to_register(engine, [cert]).unlinked] == [AMBIGUOUS]
    with engine.begin() as connection:
        connection.execute(
            tables.person_merges.insert().values(
                absorbed_person_id=absorbed, into_person_id=survivor,
                merged_at=dt.datetime(2021, 4, 1, tzinfo=dt.UTC), reason="test", request_id=1,
                coverage_ids="[]", absorbed_items="{}", replaced_items="{}",
            )
        )  # fmt: skip
    assert link_to_register(engine, [cert]).persons == {("372011", "0000123456"): survivor}
