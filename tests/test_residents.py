"""The resident register: validated, atomic, idempotent, and never a My Number in clear."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.ids import MyNumber, mynumber_check
from kokuho.registry import tables
from kokuho.registry._errors import FileRejected
from kokuho.registry._residents import load_residents, scrub

COLUMNS = ["resident_id", "mynumber", "name_kanji", "name_kana", "birth_date", "sex",
           "address", "municipality_code"]  # fmt: skip


def mynumber(body: str) -> str:
    """A valid 12-digit My Number from 11 digits (its 検査用数字 appended)."""
    return body + str(mynumber_check(body))


def resident(n: int, **fields: str) -> dict[str, str]:
    row = {
        "resident_id": f"{n:011d}",
        "mynumber": mynumber(f"{12345678900 + n:011d}"),
        "name_kanji": "讃岐 太郎",
        "name_kana": "サヌキ タロウ",
        "birth_date": "1970-05-15",
        "sex": "1",
        "address": "香川県高松市番町四丁目1番10号",
        "municipality_code": "372013",
    }
    row.update(fields)
    return row


def write(path: Path, rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def every_value(engine: sa.Engine) -> list[str]:
    """Every value of every column of every table in the database, as text."""
    reflected = sa.MetaData()
    reflected.reflect(engine)
    values: list[str] = []
    with engine.connect() as connection:
        for table in reflected.sorted_tables:
            for row in connection.execute(sa.select(table)):
                values += [str(value) for value in row if value is not None]
    return values


def assert_no_clear_number(engine: sa.Engine, numbers: list[str]) -> None:
    values = every_value(engine)
    assert values, "the scan found nothing: it would prove nothing"
    for number in numbers:
        assert not any(number in value for value in values), "a My Number is stored in clear"


def stored(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        return {
            row.resident_id: row._mapping for row in connection.execute(sa.select(tables.residents))
        }


def test_load_stores_only_the_keyed_hash(
    engine: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    rows = [resident(1), resident(2, name_kanji="讃岐 花子", sex="2", birth_date="3450101")]
    report = load_residents(engine, write(tmp_path / "residents.csv", rows), mynumber_key)
    assert (report.rows, report.inserted, report.updated, report.unchanged) == (2, 2, 0, 0)
    assert report.errors == []
    found = stored(engine)
    first = found["00000000001"]
    assert first["mynumber_hmac"] == MyNumber.parse(rows[0]["mynumber"]).keyed_hash(mynumber_key)
    assert len(first["mynumber_hmac"]) == 64
    assert str(found["00000000002"]["birth_date"]) == "1970-01-01"  # 昭和45年1月1日
    assert_no_clear_number(engine, [r["mynumber"] for r in rows])


def test_the_hash_depends_on_a_key_kept_outside(
    engine: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    number = MyNumber.parse(resident(1)["mynumber"])
    assert number.keyed_hash(mynumber_key) != number.keyed_hash(b"another-key-" * 4)
    load_residents(engine, write(tmp_path / "r.csv", [resident(1)]), mynumber_key)
    values = every_value(engine)
    assert not any(mynumber_key.decode() in value for value in values)


def test_same_file_twice_changes_nothing(
    engine: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    path = write(tmp_path / "residents.csv", [resident(1), resident(2)])
    load_residents(engine, path, mynumber_key)
    again = load_residents(engine, path, mynumber_key)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


def test_upsert_by_resident_id(engine: sa.Engine, mynumber_key: bytes, tmp_path: Path) -> None:
    load_residents(engine, write(tmp_path / "a.csv", [resident(1), resident(2)]), mynumber_key)
    moved = resident(2, address="香川県丸亀市大手町二丁目4番21号", municipality_code="372021")
    report = load_residents(
        engine, write(tmp_path / "b.csv", [resident(1), moved, resident(3)]), mynumber_key
    )
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 1)
    assert stored(engine)["00000000002"]["address"] == "香川県丸亀市大手町二丁目4番21号"


def test_two_residents_may_swap_numbers_in_one_file(
    engine: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    one, two = resident(1), resident(2)
    load_residents(engine, write(tmp_path / "a.csv", [one, two]), mynumber_key)
    swapped = [resident(1, mynumber=two["mynumber"]), resident(2, mynumber=one["mynumber"])]
    report = load_residents(engine, write(tmp_path / "b.csv", swapped), mynumber_key)
    assert report.updated == 2
    digest = MyNumber.parse(two["mynumber"]).keyed_hash(mynumber_key)
    assert stored(engine)["00000000001"]["mynumber_hmac"] == digest


def test_a_typo_in_the_number_rejects_the_file_and_is_masked(
    engine: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    good = resident(1)
    typo = resident(2)
    typo["mynumber"] = typo["mynumber"][:11] + str((int(typo["mynumber"][11]) + 1) % 10)
    path = write(tmp_path / "residents.csv", [good, typo])
    with pytest.raises(FileRejected) as rejected:
        load_residents(engine, path, mynumber_key)
    (error,) = rejected.value.errors
    assert (error.line, error.field) == (3, "mynumber")
    assert "検査用数字" in error.reason
    assert typo["mynumber"][-4:] in error.reason
    assert typo["mynumber"] not in str(rejected.value) and typo["mynumber"][:8] not in str(error)
    assert stored(engine) == {}  # all or nothing: the good row is not written either


@pytest.mark.parametrize(
    ("fields", "column"),
    [
        ({"resident_id": "1234567890"}, "resident_id"),
        ({"mynumber": "12345678901"}, "mynumber"),
        ({"name_kanji": " "}, "name_kanji"),
        ({"name_kana": "Sanuki Taro"}, "name_kana"),
        ({"name_kana": "讃岐"}, "name_kana"),
        ({"birth_date": "1970-02-30"}, "birth_date"),
        ({"birth_date": "4310501"}, "birth_date"),  # 平成31年5月1日 is 令和元年
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"sex": "0"}, "sex"),
        ({"address": ""}, "address"),
        ({"address": "高松市\x07番町"}, "address"),
        ({"name_kanji": "讃岐\u202e太郎"}, "name_kanji"),  # a bidi control, as the change feed
        ({"municipality_code": "37201"}, "municipality_code"),
        ({"name_kanji": "長" * 101}, "name_kanji"),
    ],
)
def test_each_field_is_validated(
    engine: sa.Engine, mynumber_key: bytes, tmp_path: Path, fields: dict[str, str], column: str
) -> None:
    path = write(tmp_path / "residents.csv", [resident(1, **fields)])
    with pytest.raises(FileRejected) as rejected:
        load_residents(engine, path, mynumber_key)
    assert [(e.line, e.field) for e in rejected.value.errors] == [(2, column)]
    assert str(rejected.value).startswith(f"{path}:2: {column}: ")


def test_widths_and_notations_are_accepted(
    engine: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    row = resident(1, name_kana="ｻﾇｷ ﾀﾛｳ", sex="１", municipality_code="３７２０１３",
                   birth_date="１９７０-０５-１５")  # fmt: skip
    row["mynumber"] = row["mynumber"].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    load_residents(engine, write(tmp_path / "r.csv", [row]), mynumber_key)
    record = stored(engine)["00000000001"]
    assert record["municipality_code"] == "372013" and record["sex"] == 1
    assert str(record["birth_date"]) == "1970-05-15"
    assert record["mynumber_hmac"] == MyNumber.parse(resident(1)["mynumber"]).keyed_hash(
        mynumber_key
    )


HOUSEHOLD_COLUMNS = [*COLUMNS, "household_id", "relationship"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", "1"), ("H" * 20, "H" * 20), ("Ｈ１", "H1"), ("w1", "w1")],
)
def test_a_household_id_of_the_one_format_is_stored(
    engine: sa.Engine, mynumber_key: bytes, tmp_path: Path, raw: str, expected: str
) -> None:
    """The 世帯番号 (docs/formats.md, "世帯番号"): 1–20 letters or digits after NFKC."""
    row = resident(1, household_id=raw, relationship="世帯主")
    load_residents(engine, write(tmp_path / "r.csv", [row], HOUSEHOLD_COLUMNS), mynumber_key)
    with engine.connect() as connection:
        stays = connection.execute(sa.select(tables.resident_households.c.household_id)).all()
    assert [s.household_id for s in stays] == [expected]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("H" * 21, "1–20 letters or digits"),
        ("H-1", "1–20 letters or digits"),
        ("H_1", "1–20 letters or digits"),
        ("H\x001", "NUL"),
        ("", "must not be empty"),
    ],
)
def test_a_household_id_outside_the_format_names_line_and_field(
    engine: sa.Engine, mynumber_key: bytes, tmp_path: Path, raw: str, reason: str
) -> None:
    rows = [resident(1, household_id="H1", relationship="世帯主"),
            resident(2, household_id=raw, relationship="世帯主")]  # fmt: skip
    path = write(tmp_path / "r.csv", rows, HOUSEHOLD_COLUMNS)
    with pytest.raises(FileRejected) as rejected:
        load_residents(engine, path, mynumber_key)
    [error] = rejected.value.errors
    assert (error.file, error.line, error.field) == (str(path), 3, "household_id")
    assert reason in error.reason
    assert stored(engine) == {}


def test_duplicates_inside_the_file(engine: sa.Engine, mynumber_key: bytes, tmp_path: Path) -> None:
    rows = [resident(1), resident(1), resident(2, mynumber=resident(3)["mynumber"]), resident(3)]
    with pytest.raises(FileRejected) as rejected:
        load_residents(engine, write(tmp_path / "r.csv", rows), mynumber_key)
    found = [(e.line, e.field) for e in rejected.value.errors]
    assert found == [(3, "resident_id"), (5, "mynumber")]


def test_a_number_held_by_another_resident(
    engine: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    load_residents(engine, write(tmp_path / "a.csv", [resident(1)]), mynumber_key)
    thief = resident(9, mynumber=resident(1)["mynumber"])
    with pytest.raises(FileRejected) as rejected:
        load_residents(engine, write(tmp_path / "b.csv", [thief]), mynumber_key)
    (error,) = rejected.value.errors
    assert error.field == "mynumber" and "00000000001" in error.reason
    assert resident(1)["mynumber"] not in str(error)
    assert set(stored(engine)) == {"00000000001"}


def test_a_number_in_the_wrong_column_is_not_echoed(
    engine: sa.Engine, mynumber_key: bytes, tmp_path: Path
) -> None:
    row = resident(1)
    row["resident_id"] = row["mynumber"]
    with pytest.raises(FileRejected) as rejected:
        load_residents(engine, write(tmp_path / "r.csv", [row]), mynumber_key)
    assert [e.field for e in rejected.value.errors] == ["resident_id"]
    assert resident(1)["mynumber"] not in " ".join(str(e) for e in rejected.value.errors)


def test_scrub_masks_anything_that_looks_like_a_number() -> None:
    assert scrub("x '123456789012' y") == "x '********9012' y"
    assert scrub("１２３４ ５６７８ ９０１２") == "********９０１２"
    assert scrub("1234-5678-9012") == "********9012"
    assert scrub("resident 00000000001 line 17") == "resident 00000000001 line 17"


def test_header_problems(engine: sa.Engine, mynumber_key: bytes, tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", [], [*COLUMNS, "mynumbr"])
    with pytest.raises(FileRejected) as rejected:
        load_residents(engine, path, mynumber_key)
    assert [(e.field, e.reason) for e in rejected.value.errors] == [("mynumbr", "unknown column")]
    path = write(tmp_path / "s.csv", [], COLUMNS[:-1])
    with pytest.raises(FileRejected) as rejected:
        load_residents(engine, path, mynumber_key)
    assert rejected.value.errors[0].field == "municipality_code"
