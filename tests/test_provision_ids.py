"""Pseudonymous linkage IDs: keyed on the source side, re-keyed per provision so that two
provisions cannot be joined, stable within one provision; ID1, ID2 and ID5 break where the
notes say they break; the keys stay in 0600 files and out of every extract."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.ids import InsuredId
from kokuho.provision import (
    ProvisionKeyError,
    destroy_provision_key,
    id1,
    id2,
    id5,
    new_provision_key,
    oldest_insured_numbers,
    provision_key,
    rekey,
    research_persons,
    scan_columns,
    source_key,
)
from kokuho.registry import tables

BORN = dt.date(1950, 4, 2)
KOKUHO = InsuredId("00370015", "高松", "1234", "01")
KOKI = InsuredId("39370010", "", "98765432", "00")  # 後期高齢者医療 at 75: a new number
PEOPLE = [
    ("ヤマダ タロウ", dt.date(1950, 4, 2), 1),
    ("ヤマダ ハナコ", dt.date(1952, 7, 9), 2),
    ("スズキ イチロウ", dt.date(1948, 1, 30), 1),
    ("タナカ ミチコ", dt.date(1960, 11, 3), 2),
]


def test_ids_are_the_keyed_hash_of_the_named_fields() -> None:
    key = b"k" * 32
    # Worked from the definition, not from the code: HMAC-SHA256 over the fields joined by
    # the unit separator, the kind first.
    expected = hmac.new(
        key, "ID2\x1fヤマダタロウ\x1f1950-04-02\x1f1".encode(), hashlib.sha256
    ).hexdigest()
    assert id2(key, "ﾔﾏﾀﾞ ﾀﾛｳ", BORN, 1) == expected
    assert id2(key, "やまだ　たろう", BORN, 1) == expected  # normalised as the register does
    assert (
        id1(key, KOKUHO, BORN, 1)
        == hmac.new(
            key, "ID1\x1f00370015\x1f高松\x1f1234\x1f1950-04-02\x1f1".encode(), hashlib.sha256
        ).hexdigest()
    )
    assert (
        id5(key, KOKUHO)
        == hmac.new(
            key, "ID5\x1f00370015\x1f高松\x1f1234\x1f01".encode(), hashlib.sha256
        ).hexdigest()
    )
    assert id2(b"j" * 32, "ヤマダ タロウ", BORN, 1) != expected  # another key, another ID
    with pytest.raises(ValueError, match="sex"):
        id2(key, "ヤマダ タロウ", BORN, 3)
    with pytest.raises(ValueError, match="empty"):
        id2(key, " ", BORN, 1)


def test_where_each_id_breaks() -> None:
    key = b"k" * 32
    # ID1 breaks when the insured number changes (国保 → 後期高齢者医療 at 75) …
    assert id1(key, KOKUHO, BORN, 1) != id1(key, KOKI, BORN, 1)
    # … and only 枝番 differs for a twin of the same sex: ID1 joins the twins.
    twin = InsuredId(KOKUHO.insurer, KOKUHO.symbol, KOKUHO.number, "02")
    assert id1(key, KOKUHO, BORN, 1) == id1(key, twin, BORN, 1)
    # ID2 survives the change of number but breaks when the kana differs between sources …
    assert id2(key, "ヤマダ タロウ", BORN, 1) != id2(key, "ヤマタ タロウ", BORN, 1)
    # … while small kana and long-vowel dashes are the same name, as in the register.
    assert id2(key, "シャシン", BORN, 1) == id2(key, "ｼﾔｼﾝ", BORN, 1)
    # ID5 is the oldest number's: it tells the twins apart and never changes afterwards.
    assert id5(key, KOKUHO) != id5(key, twin)


def test_two_provisions_of_the_same_people_cannot_be_joined(tmp_path: Path) -> None:
    source = source_key(tmp_path)
    first, second = (
        new_provision_key("A-1", folder=tmp_path),
        new_provision_key("B-2", folder=tmp_path),
    )
    ids = [id2(source, kana, born, sex) for kana, born, sex in PEOPLE]
    one = [rekey(first, i) for i in ids]
    two = [rekey(second, i) for i in ids]
    assert len(set(one)) == len(set(two)) == len(PEOPLE)
    assert set(one).isdisjoint(two)
    assert set(one).isdisjoint(ids) and set(two).isdisjoint(ids)
    # No byte of one provision's ID predicts the other's: compare every pair's shared prefix.
    shared = max(len(os.path.commonprefix([a, b])) for a in one for b in two)
    assert shared < 8


def test_ids_are_stable_within_one_provision_and_gone_with_its_key(tmp_path: Path) -> None:
    source = source_key(tmp_path)
    assert source_key(tmp_path) == source  # created once, then read
    created = new_provision_key("P-7", folder=tmp_path)
    again = provision_key("P-7", folder=tmp_path)
    assert again == created
    ids = [id2(source, *person) for person in PEOPLE]
    assert [rekey(created, i) for i in ids] == [rekey(again, i) for i in ids]
    with pytest.raises(ProvisionKeyError, match="already has a key"):
        new_provision_key("P-7", folder=tmp_path)
    assert destroy_provision_key("P-7", folder=tmp_path)
    with pytest.raises(ProvisionKeyError, match="no key"):
        provision_key("P-7", folder=tmp_path)
    with pytest.raises(ValueError, match="letters, digits"):
        new_provision_key("../escape", folder=tmp_path)


def test_keys_are_0600_files_and_a_readable_key_is_refused(tmp_path: Path) -> None:
    source_key(tmp_path)
    new_provision_key("Q", folder=tmp_path)
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    (tmp_path / "source.key").chmod(0o644)
    with pytest.raises(ProvisionKeyError, match="chmod 600"):
        source_key(tmp_path)


def test_the_default_key_folder_is_under_kokuho_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    source_key()
    assert (tmp_path / "secrets" / "provision" / "source.key").exists()


def test_an_extract_of_ids_holds_no_key_and_no_identifier(tmp_path: Path) -> None:
    source = source_key(tmp_path)
    key = new_provision_key("X", folder=tmp_path)
    extract = {
        "id": [rekey(key, id2(source, *p)) for p in PEOPLE],
        "id5": [rekey(key, id5(source, KOKUHO))] * len(PEOPLE),
        "sex": [p[2] for p in PEOPLE],
    }
    assert scan_columns(extract) == []
    text = repr(extract)
    assert source.hex() not in text and key.hex() not in text


def _register(connection: sa.Connection) -> None:
    connection.execute(
        sa.insert(tables.insurers),
        [
            {"insurer_number": "00370015", "name": "高松市", "kind": "kokuho_municipal",
             "prefecture": "37", "municipality_code": "372013"},
            {"insurer_number": "39370010", "name": "香川県後期高齢者医療広域連合", "kind": "koki",
             "prefecture": "37", "municipality_code": None},
        ],
    )  # fmt: skip
    connection.execute(
        sa.insert(tables.persons),
        [
            {"person_id": 1, "name_kanji": "山田 太郎", "name_kana": "ヤマダ タロウ",
             "birth_date": BORN, "sex": 1, "address": "香川県高松市番町1-1", "match_key": "a"},
            {"person_id": 2, "name_kanji": "山田 次郎", "name_kana": "ヤマダ ジロウ",
             "birth_date": BORN, "sex": 1, "address": "香川県高松市番町1-1", "match_key": "b"},
        ],
    )  # fmt: skip
    rows = [
        # person 1: 国保 from 2000, then 後期 from his 75th birthday (listed first on purpose).
        (11, 1, KOKI, dt.date(2025, 4, 1), None),
        (10, 1, KOKUHO, dt.date(2000, 4, 1), dt.date(2025, 4, 1)),
        # person 2 (his twin): two coverages on one day; the lower coverage id is the older.
        (13, 2, InsuredId("00370015", "高松", "1234", "03"), dt.date(2000, 4, 1), None),
        (12, 2, InsuredId("00370015", "高松", "1234", "02"), dt.date(2000, 4, 1), None),
    ]
    connection.execute(
        sa.insert(tables.coverages),
        [
            {"coverage_id": cid, "person_id": pid, "insurer_number": n.insurer,
             "symbol": n.symbol, "number": n.number, "branch": n.branch, "acquired_on": on,
             "lost_on": lost, "loss_reason": None, "relationship": 1, "card_class": "01"}
            for cid, pid, n, on, lost in rows
        ],
    )  # fmt: skip


def test_id5_comes_from_the_oldest_number_in_the_register(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        _register(connection)
        oldest = oldest_insured_numbers(connection)
    assert oldest == {1: KOKUHO, 2: InsuredId("00370015", "高松", "1234", "02")}
    key = b"k" * 32
    # Person 1's ID1 differs before and after 75; his ID5 is one and the same.
    assert id1(key, KOKUHO, BORN, 1) != id1(key, KOKI, BORN, 1)
    assert id5(key, oldest[1]) == id5(key, KOKUHO)


def test_research_persons_hold_no_name_number_or_birth_day(engine: sa.Engine) -> None:
    source, key = b"s" * 32, b"p" * 32
    with engine.begin() as connection:
        _register(connection)
        # Person 1 is in the resident register of 高松市 (found by the five-item key); his twin
        # is not there.
        connection.execute(
            sa.insert(tables.residents),
            [{"resident_id": "R1", "mynumber_hmac": "h" * 64, "name_kanji": "山田 太郎",
              "name_kana": "ヤマダ タロウ", "birth_date": BORN, "sex": 1,
              "address": "香川県高松市番町1-1", "municipality_code": "372013",
              "match_key": "a"}],
        )  # fmt: skip
        rows = research_persons(
            connection, source_key=source, provision_key=key, on=dt.date(2025, 4, 1), top=85
        )
    # Born 1950-04-02: 75 on 2025-04-01 (a year older at the end of the day before).
    assert [(r.sex, r.birth_month, r.age_band, r.municipality) for r in rows] == [
        (1, "1950-04", "75-79", "372013"),
        (1, "1950-04", "75-79", None),
    ]
    # The IDs are the provision's ID5s: the twins differ, and nothing of the source shows.
    assert [r.pid for r in rows] == [
        rekey(key, id5(source, KOKUHO)),
        rekey(key, id5(source, InsuredId("00370015", "高松", "1234", "02"))),
    ]
    text = repr(rows)
    for secret in ("ヤマダ", "山田", "1950-04-02", "1234", "番町", source.hex(), key.hex()):
        assert secret not in text
