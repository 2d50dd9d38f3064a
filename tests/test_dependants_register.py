"""住民票の有無 from the resident register (`kokuho dependants check --register`), on SQLite and
PostgreSQL: found on all five items (by the register's own comparison) is a 住民票 in Japan;
not found stays unknown, never "abroad"."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kokuho.boundary import BasicItems, check_residency_file, resident_register_lookup
from kokuho.cli import main
from kokuho.ids import mynumber_check
from kokuho.registry import load_residents
from tests.feedfiles import FEED_COLUMNS, KYOKAI, acquire, write_csv

RESIDENTS = ["resident_id", "mynumber", "name_kanji", "name_kana", "birth_date", "sex",
             "address", "municipality_code"]  # fmt: skip
RESIDENCY = ["residence", "visa_status", "residency_exception", "exception_evidence",
             "exception_until"]  # fmt: skip
HANAKO = {
    "name_kanji": "讃岐 花子",
    "name_kana": "サヌキ ハナコ",
    "birth_date": "2001-07-01",
    "sex": "2",
    "address": "香川県高松市番町四丁目1番10号",
}
JIRO = {**HANAKO, "name_kanji": "讃岐 次郎", "name_kana": "サヌキ ジロウ", "sex": "1"}


def _residents(engine: sa.Engine, tmp_path: Path, key: bytes) -> None:
    body = "12345678901"
    row = {"resident_id": "00000000001", "mynumber": body + str(mynumber_check(body)),
           "municipality_code": "372013", **HANAKO}  # fmt: skip
    load_residents(engine, write_csv(tmp_path / "residents.csv", RESIDENTS, [row]), key)


def _feed(tmp_path: Path) -> Path:
    # The feed writes Hanako in another notation: half-width kana, no prefecture, 4-1-10.
    written = {**HANAKO, "name_kana": "ｻﾇｷ ﾊﾅｺ", "address": "高松市番町4-1-10"}
    rows = [
        acquire("F1", "2021-04-01", insurer=KYOKAI, number="77", branch="02", person=written,
                relationship="2"),
        acquire("F2", "2021-04-01", insurer=KYOKAI, number="77", branch="03", person=JIRO,
                relationship="2"),
        acquire("F3", "2021-04-01", insurer=KYOKAI, number="77", branch="04", person=JIRO,
                relationship="2", residence="abroad"),
    ]  # fmt: skip
    return write_csv(tmp_path / "feed.csv", FEED_COLUMNS + RESIDENCY, rows)


def test_the_register_answers_only_for_all_five_items(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    _residents(engine, tmp_path, mynumber_key)
    found = resident_register_lookup(engine)
    hanako = BasicItems("讃岐 花子", "ｻﾇｷ ﾊﾅｺ", dt.date(2001, 7, 1), 2, "高松市番町4-1-10")
    assert found(hanako)
    assert not found(dataclasses.replace(hanako, birth_date=dt.date(2001, 7, 2)))
    assert not found(BasicItems("讃岐 花子", "サヌキ ハナコ", dt.date(2001, 7, 1), 1,
                                "高松市番町4-1-10"))  # fmt: skip
    # Another prefecture's 番町 is another address.
    assert not found(BasicItems("讃岐 花子", "サヌキ ハナコ", dt.date(2001, 7, 1), 2,
                                "岡山県高松市番町4-1-10"))  # fmt: skip


def test_a_feed_row_without_residence_is_looked_up(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    _residents(engine, tmp_path, mynumber_key)
    check = check_residency_file(_feed(tmp_path), residents=resident_register_lookup(engine))
    found = {r.row_id: (r.decision.outcome, r.decision.rule, r.residence_from) for r in check.rows}
    assert found == {
        "F1": ("認定", "principle", "register"),
        "F2": ("要確認", "residence_unknown", None),  # not in this register: unknown, not abroad
        "F3": ("不認定", "principle", "file"),  # the file's own answer is not looked up
    }
    assert "一致する住民なし" in check.rows[1].decision.notes[-1]


def test_the_command_looks_up_with_register_and_not_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, mynumber_key: bytes
) -> None:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    from kokuho.store import connect

    engine = connect(database_url)
    _residents(engine, tmp_path, mynumber_key)
    engine.dispose()
    feed = str(_feed(tmp_path))
    outcomes = {}
    for flags in ((), ("--register",)):
        result = CliRunner().invoke(main, ["dependants", "check", feed, "--json", *flags])
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)["files"][0]["rows"]
        outcomes[flags] = [row["decision"]["outcome"] for row in rows]
    assert outcomes == {
        (): ["要確認", "要確認", "不認定"],
        ("--register",): ["認定", "要確認", "不認定"],
    }
