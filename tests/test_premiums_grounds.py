"""Reduction grounds (docs/formats.md §8a): 非自発的失業 and 旧被扶養者 read from a file into the
assessment inputs of both paths (``household_inputs`` and ``household_columns``), with worked
cases by hand; every bad row named file:line:field and nothing loaded; a file loaded once; a
kill -9 in the middle of an import leaves nothing. On SQLite and PostgreSQL.

The town is test_premiums_households's, plus J (born 1954-05-05), who joins 国保 on 2020-10-01
alone in household H5 as a 旧被扶養者 (her husband, in employee insurance, moved to 後期).
K (born 1970-03-03) is alone in H4 from FY2021 (F moved out on 2021-01-15).

The rates are the published city's (tests/premiumcases.py): 医療 6.7 % / 26,800 / 19,200,
支援 2.3 % / 9,100 / 7,000, 介護 2.1 % / 11,000 / 5,500; from FY2021 基礎控除 430,000 and the
軽減 limits 7割 430,000 (+100,000 per wage earner beyond one), 5割 + 285,000 × n, 2割
+ 520,000 × n; each part's total floored to 100円.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.ids import mynumber_check
from kokuho.premiums import (
    Assessment,
    HouseholdInput,
    UnknownMunicipality,
    assess,
    ground_counts,
    grounds_for_year,
    household_inputs,
    household_tables,
    load_grounds,
    load_incomes,
    tables,
)
from kokuho.premiums._households_columnar import household_columns
from kokuho.registry import FileRejected, import_changes, load_insurers, load_residents
from kokuho.registry import tables as registry_tables
from tests.feedfiles import acquire, write_changes, write_csv
from tests.killing import kill_when_said
from tests.premiumcases import CITY, city_rules
from tests.test_premiums_households import (  # noqa: F401  (fixtures)
    INCOME_COLUMNS,
    TOWN,
    households,
    later,
    register,
    synthetic,
    town,
)
from tests.test_premiums_households_columnar import normalised

COLUMNS = ["resident_id", "ground", "date", "reason_code"]
K = "00000000007"
J = "00000000009"
J_ITEMS = {
    "name_kanji": "讃岐 ジェイ子", "name_kana": "サヌキ ジェイ", "birth_date": "1954-05-05",
    "sex": "2", "address": "香川県高松市番町五丁目5番5号",
}  # fmt: skip


def write(path: Path, rows: list[tuple[str, str, str, str]], header: list[str] = COLUMNS) -> Path:
    text = ",".join(header) + "\n" + "".join(",".join(row) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")
    return path


def incomes(engine: sa.Engine, path: Path, year: int, rows: dict[str, tuple[int, ...]]) -> None:
    lines = [
        dict(zip(INCOME_COLUMNS, (year, resident, *values), strict=True))
        for resident, values in rows.items()
    ]
    load_incomes(engine, write_csv(path, INCOME_COLUMNS, lines))


@pytest.fixture
def grounds_town(
    households: sa.Engine,  # noqa: F811
    tmp_path: Path,
    mynumber_key: bytes,
) -> sa.Engine:
    """The town with J in H5 (国保 from 2020-10-01) and incomes for FY2020–FY2023: K 給与所得
    3,000,000 (a wage earner), J 公的年金等の雑所得 2,000,000."""
    body = "55500000009"
    row = {
        "resident_id": J, "mynumber": body + str(mynumber_check(body)), **J_ITEMS,
        "municipality_code": TOWN, "household_id": "H5", "relationship": "世帯主",
        "household_since": "2020-10-01",
    }  # fmt: skip
    register(households, tmp_path / "r3.csv", [*later(), row], mynumber_key)
    joined = acquire("J1", "2020-10-01", number="1009", person=J_ITEMS)
    import_changes(households, write_changes(tmp_path / "j.csv", [joined]))
    for year in (2020, 2021, 2022, 2023):
        incomes(households, tmp_path / f"i{year}.csv", year, {K: (3_000_000, 0, 0, 1, 1, 0),
                                                  J: (0, 2_000_000, 0, 1, 0, 0)})  # fmt: skip
    return households


def household(engine: sa.Engine, year: int, household_id: str) -> HouseholdInput:
    """The household's inputs as read from the database, under the published city's rates."""
    found = {h.household_id: h for h in household_inputs(engine, TOWN, year)}
    return dataclasses.replace(found[household_id], municipality=CITY)


def amounts(a: Assessment) -> dict[str, int]:
    return {p.part: p.amount for p in a.parts}


def test_involuntary_unemployment_in_and_outside_the_period(
    grounds_town: sa.Engine, tmp_path: Path
) -> None:
    # K left on 2020-06-30 (離職理由コード 11, 解雇): the period runs from July 2020 (the month of
    # the day after leaving) to March 2022 (the end of the next fiscal year).
    load_grounds(grounds_town, write(tmp_path / "g.csv", [(K, "involuntary_unemployment",
                                                           "2020-06-30", "11")]))  # fmt: skip
    h4 = household(grounds_town, 2021, "H4")
    (k,) = h4.members
    assert k.involuntary_unemployment_from == dt.date(2020, 7, 1)
    # FY2021, inside: 給与所得 3,000,000 × 30/100 = 900,000.
    # 軽減: 900,000, n = 1, one wage earner: 5割 limit 430,000 + 285,000 = 715,000 < 900,000
    # ≤ 2割 limit 430,000 + 520,000 = 950,000 → 2割. 基準総所得金額 900,000 − 430,000 = 470,000.
    # 医療 470,000 × 6.7% = 31,490 + 26,800 × 0.8 = 21,440 + 19,200 × 0.8 = 15,360 = 68,290 → 68,200
    # 支援 10,810 + 7,280 + 5,600 = 23,690 → 23,600
    # 介護 (K is 51–52) 9,870 + 8,800 + 4,400 = 23,070 → 23,000
    inside = assess(h4, city_rules(2021))
    assert inside.reduction == "2"
    assert amounts(inside) == {"medical": 68_200, "support": 23_600, "care": 23_000}
    # FY2022, outside: the whole 3,000,000 counts: > 950,000, no 軽減; base 2,570,000.
    # 医療 172,190 + 26,800 + 19,200 = 218,190 → 218,100
    # 支援 59,110 + 9,100 + 7,000 = 75,210 → 75,200
    # 介護 53,970 + 11,000 + 5,500 = 70,470 → 70,400
    h4 = household(grounds_town, 2022, "H4")
    assert h4.members[0].involuntary_unemployment_from is None
    outside = assess(h4, city_rules(2022))
    assert outside.reduction is None
    assert amounts(outside) == {"medical": 218_100, "support": 75_200, "care": 70_400}


def test_former_dependant_within_and_after_the_two_years(
    grounds_town: sa.Engine, tmp_path: Path
) -> None:
    # J joined 2020-10-01 aged 66 as a 旧被扶養者: 均等割 and (alone) 平等割 halved for the 24
    # months October 2020 – September 2022.
    load_grounds(grounds_town, write(tmp_path / "g.csv", [(J, "former_dependant",
                                                           "2020-10-01", "")]))  # fmt: skip
    h5 = household(grounds_town, 2021, "H5")
    (j,) = h5.members
    assert j.former_dependant and j.acquired == dt.date(2020, 10, 1)
    # FY2021, all 12 months inside. 軽減: 2,000,000 − 150,000 (高齢者特別控除, 65+) = 1,850,000
    # > 950,000: none. 所得割 exempt. 医療 26,800 × 0.5 + 19,200 × 0.5 = 23,000;
    # 支援 4,550 + 3,500 = 8,050 → 8,000; 介護 none (67).
    a = assess(h5, city_rules(2021))
    assert a.reduction is None
    assert amounts(a) == {"medical": 23_000, "support": 8_000, "care": 0}
    assert all(part.income_levy == 0 for part in a.parts)
    # FY2023, all months after the window: the full 均等割 and 平等割 again.
    after = assess(household(grounds_town, 2023, "H5"), city_rules(2023))
    medical, support, _ = after.parts
    assert (medical.per_capita, medical.per_household) == (26_800, 19_200)
    assert (support.per_capita, support.per_household) == (9_100, 7_000)
    # The 所得割 exemption has no end (only the halving is limited to two years): still none.
    assert all(part.income_levy == 0 for part in after.parts)
    assert amounts(after) == {"medical": 26_800 + 19_200, "support": 9_100 + 7_000, "care": 0}


def test_both_input_paths_read_the_grounds_alike(grounds_town: sa.Engine, tmp_path: Path) -> None:
    rows = [(K, "involuntary_unemployment", "2020-06-30", "11"),
            (J, "former_dependant", "2020-10-01", "")]  # fmt: skip
    load_grounds(grounds_town, write(tmp_path / "g.csv", rows))
    for year in (2020, 2021, 2022):
        reference = normalised(*household_tables(household_inputs(grounds_town, TOWN, year)))
        columnar = normalised(*household_columns(grounds_town, TOWN, year))
        assert columnar == reference
        flagged = [dict(m) for _, ms in columnar.values() for m in ms]
        assert any(m["former_dependant"] for m in flagged)
        assert any(m["involuntary_unemployment_from"] for m in flagged) == (year < 2022)
    # And the same assessments, household by household.
    rules = city_rules(2021)
    by_household = {
        h.household_id: assess(dataclasses.replace(h, municipality=CITY), rules)
        for h in household_inputs(grounds_town, TOWN, 2021)
    }
    assert by_household["H4"].reduction == "2" and amounts(by_household["H5"])["medical"] == 23_000


def test_the_synthetic_prefecture_has_grounds_both_paths_read_alike(
    engine: sa.Engine,
    synthetic: Path,  # noqa: F811
    mynumber_key: bytes,
) -> None:
    """The synthetic prefecture (synth/_grounds.py) plants both grounds; its members get them
    the same way on both paths."""
    load_insurers(engine, synthetic / "insurers.csv")
    changes = sorted((synthetic / "changes").glob("*.csv"), key=lambda p: p.stem.split("_")[::-1])
    for path in changes:
        import_changes(engine, path)
    load_residents(engine, synthetic / "residents.csv", mynumber_key)
    for path in sorted((synthetic / "incomes").glob("*.csv")):
        load_incomes(engine, path)
    report = load_grounds(engine, synthetic / "grounds" / "reduction_grounds.csv")
    assert report.inserted > 0
    kinds = {count.ground for count in ground_counts(engine)}
    assert kinds == {"former_dependant", "involuntary_unemployment"}
    r = registry_tables.residents.c
    with engine.connect() as connection:
        codes = sorted(set(connection.scalars(sa.select(r.municipality_code).distinct())))
    flagged: set[str] = set()
    for year in (2020, 2021):
        for code in codes:
            try:
                expected = normalised(*household_tables(household_inputs(engine, code, year)))
            except UnknownMunicipality:
                continue
            found = normalised(*household_columns(engine, code, year))
            assert found == expected, (code, year)
            rows = [dict(m) for _, ms in found.values() for m in ms]
            flagged |= {"former_dependant" for m in rows if m["former_dependant"]}
            flagged |= {"unemployment" for m in rows if m["involuntary_unemployment_from"]}
    assert flagged == {"former_dependant", "unemployment"}


@pytest.mark.parametrize(
    ("left", "first_year", "last_year"),
    [
        # Left 31 March: the day after is 1 April 2020, FY2020 → the period is FY2020–FY2021.
        ("2020-03-31", 2020, 2021),
        # Left 30 March: the day after is 31 March 2020, FY2019 → FY2019–FY2020.
        ("2020-03-30", 2019, 2020),
    ],
)
def test_the_period_ends_with_the_next_fiscal_year(
    grounds_town: sa.Engine, tmp_path: Path, left: str, first_year: int, last_year: int
) -> None:
    load_grounds(grounds_town, write(tmp_path / "g.csv", [(K, "involuntary_unemployment",
                                                           left, "21")]))  # fmt: skip
    day_after = dt.date.fromisoformat(left) + dt.timedelta(days=1)
    with grounds_town.connect() as connection:
        for year in range(first_year - 1, last_year + 2):
            found = grounds_for_year(connection, year).get(K)
            if first_year <= year <= last_year:
                assert found is not None and found.involuntary_unemployment_from == day_after
            else:
                assert found is None, year


def stored(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        grounds = connection.scalar(
            sa.select(sa.func.count()).select_from(tables.premium_reduction_grounds)
        )
        files = connection.scalar(
            sa.select(sa.func.count()).select_from(tables.premium_ground_files)
        )
    return int(grounds or 0), int(files or 0)


def test_every_bad_row_is_reported_and_nothing_is_loaded(
    grounds_town: sa.Engine, tmp_path: Path
) -> None:
    rows = [
        (K, "involuntary_unemployment", "2020-06-30", "11"),  # good
        (K, "involuntary_unemployment", "2021-06-30", "45"),  # 45: 自己都合, not 特定
        (K, "involuntary_unemployment", "2021-07-31", ""),  # no code
        (K, "early_retirement", "2021-06-30", "11"),  # no such ground
        ("00000000099", "involuntary_unemployment", "2021-06-30", "11"),  # no such resident
        (K, "involuntary_unemployment", "2021-02-30", "11"),  # no such day
        (J, "former_dependant", "2020-10-01", "11"),  # a code on a 旧被扶養者
        # J born 1954-05-05 is 64 on 2019-05-04: too young to be a 旧被扶養者.
        (J, "former_dependant", "2019-05-04", ""),
        # J is 65 on 2019-05-05: too old for 非自発的失業 (under 65 at leaving).
        (J, "involuntary_unemployment", "2019-05-05", "11"),
        (K, "involuntary_unemployment", "2020-06-30", "11"),  # line 2 again
        (K, "involuntary_unemployment", "2020-06-3\0", "11"),  # NUL byte
    ]
    path = write(tmp_path / "bad.csv", rows)
    with pytest.raises(FileRejected) as caught:
        load_grounds(grounds_town, path)
    errors = caught.value.errors
    found = {(e.line, e.field) for e in errors}
    # A NUL byte is refused first and alone: the file is not text.
    assert found == {(12, "date")}
    assert all(e.file == str(path) for e in errors)
    rows.pop()
    with pytest.raises(FileRejected) as caught:
        load_grounds(grounds_town, write(tmp_path / "bad.csv", rows))
    by_line = {e.line: e for e in caught.value.errors}
    assert {line: e.field for line, e in by_line.items()} == {
        3: "reason_code", 4: "reason_code", 5: "ground", 7: "date", 8: "reason_code",
        11: "resident_id",
    }  # fmt: skip
    assert "'45'" in by_line[3].reason and "離職理由コード" in by_line[3].reason
    assert stored(grounds_town) == (0, 0)
    # The first pass checks values; the persons are checked when the values are clean.
    clean = [rows[0], rows[4], rows[7], rows[8]]
    with pytest.raises(FileRejected) as caught:
        load_grounds(grounds_town, write(tmp_path / "persons.csv", clean))
    by_line = {e.line: e for e in caught.value.errors}
    assert {line: e.field for line, e in by_line.items()} == {
        3: "resident_id",
        4: "date",
        5: "date",
    }
    assert "aged 64" in by_line[4].reason and "aged 65" in by_line[5].reason
    assert stored(grounds_town) == (0, 0)


def test_a_ground_dated_after_today_has_not_arisen(grounds_town: sa.Engine, tmp_path: Path) -> None:
    """The 離職日 and the 資格取得日 are recorded after they happen: a date after the day of
    the import is refused, the day itself is not."""
    today = dt.date(2021, 6, 30)
    path = write(tmp_path / "ahead.csv", [
        (K, "involuntary_unemployment", "2021-07-01", "11"),  # the day after: refused
        (J, "former_dependant", "2021-07-01", ""),
    ])  # fmt: skip
    with pytest.raises(FileRejected) as caught:
        load_grounds(grounds_town, path, today=today)
    assert [(e.line, e.field) for e in caught.value.errors] == [(2, "date"), (3, "date")]
    assert "after today (2021-06-30)" in caught.value.errors[0].reason
    assert stored(grounds_town) == (0, 0)
    on_the_day = write(
        tmp_path / "today.csv", [(K, "involuntary_unemployment", "2021-06-30", "11")]
    )
    assert load_grounds(grounds_town, on_the_day, today=today).inserted == 1


def test_a_file_loads_once_and_a_changed_code_is_refused(
    grounds_town: sa.Engine, tmp_path: Path
) -> None:
    first = write(tmp_path / "a.csv", [(K, "involuntary_unemployment", "2020-06-30", "11")])
    assert load_grounds(grounds_town, first).inserted == 1
    assert load_grounds(grounds_town, first).skipped
    # The same row in another file, with a line more: accepted as unchanged.
    again = write(tmp_path / "b.csv", [(K, "involuntary_unemployment", "2020-06-30", "11"),
                                       (J, "former_dependant", "2020-10-01", "")])  # fmt: skip
    report = load_grounds(grounds_town, again)
    assert (report.inserted, report.unchanged) == (1, 1)
    changed = write(tmp_path / "c.csv", [(K, "involuntary_unemployment", "2020-06-30", "12")])
    with pytest.raises(FileRejected) as caught:
        load_grounds(grounds_town, changed)
    (error,) = caught.value.errors
    assert (error.line, error.field) == (2, "reason_code") and "a.csv:2" in error.reason
    assert stored(grounds_town) == (2, 2)


def test_the_cli_imports_and_lists_with_json(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kokuho.store import connect

    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    engine = connect(database_url)
    residents(engine, 3)
    good = write(tmp_path / "good.csv", [("00000000001", "involuntary_unemployment",
                                          "2021-09-30", "33"),
                                         ("00000000002", "involuntary_unemployment",
                                          "2022-01-15", "11")])  # fmt: skip
    bad = write(tmp_path / "bad.csv", [("00000000003", "involuntary_unemployment",
                                        "2021-09-30", "40")])  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(main, ["premiums", "grounds", "import", str(good), str(bad), "--json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["rejected"] == 1 and document["files"][0]["inserted"] == 2
    assert document["files"][1]["errors"][0]["field"] == "reason_code"
    listed = runner.invoke(main, ["premiums", "grounds", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    # 2021-09-30 is in FY2021; 2022-01-15 too (the fiscal year starts in April).
    assert json.loads(listed.stdout)["grounds"] == [
        {"ground": "involuntary_unemployment", "fiscal_year": 2021, "persons": 2}
    ]
    engine.dispose()


def test_the_cli_prints_one_line_per_file(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kokuho.store import connect

    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    engine = connect(database_url)
    residents(engine, 1)
    good = write(tmp_path / "good.csv", [("00000000001", "involuntary_unemployment",
                                          "2021-09-30", "33")])  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(main, ["premiums", "grounds", "import", str(good)])
    again = runner.invoke(main, ["premiums", "grounds", "import", str(good)])
    assert (first.exit_code, again.exit_code) == (0, 0)
    assert first.stdout == f"{good}: 1 rows, 1 added, 0 already loaded with the same values\n"
    assert again.stdout == f"{good}: already loaded, skipped\n"
    engine.dispose()


def residents(engine: sa.Engine, count: int) -> None:
    """``count`` residents 00000000001… born 1970-01-01."""
    rows = [
        {"resident_id": f"{n:011d}", "mynumber_hmac": f"h{n}", "name_kanji": "讃岐 太郎",
         "name_kana": "サヌキ タロウ", "birth_date": dt.date(1970, 1, 1), "sex": 1,
         "address": "香川県高松市", "municipality_code": "372013"}
        for n in range(1, count + 1)
    ]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(registry_tables.residents.insert(), rows)


_KILLED_IMPORT = """
import sys, time
import sqlalchemy as sa
from pathlib import Path
from kokuho.premiums import load_grounds
from kokuho.store import connect

engine = connect(sys.argv[1])

@sa.event.listens_for(engine, "commit")
def _before_commit(conn):
    # Every row is written inside the transaction and COMMIT is not sent: wait for the kill.
    written = conn.exec_driver_sql("SELECT count(*) FROM premium_reduction_grounds").scalar()
    print(f"written {written}", flush=True)
    time.sleep(120)

load_grounds(engine, Path(sys.argv[2]))
"""


def test_a_kill_9_mid_import_leaves_nothing(database_url: str, tmp_path: Path) -> None:
    from kokuho.store import connect

    engine = connect(database_url)
    count = 20_000
    residents(engine, count)
    path = write(
        tmp_path / "big.csv",
        [
            (f"{n:011d}", "involuntary_unemployment", "2021-06-30", "11")
            for n in range(1, count + 1)
        ],
    )
    env = {**os.environ, "KOKUHO_HOME": str(tmp_path)}
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_IMPORT, database_url, str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    kill_when_said(child, f"written {count}")
    assert child.returncode == -signal.SIGKILL
    assert stored(engine) == (0, 0)
    assert load_grounds(engine, path).inserted == count
    assert stored(engine) == (count, 1)
    engine.dispose()
