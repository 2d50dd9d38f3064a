"""Households (世帯) for premiums, formed from the resident register's 世帯番号 and 続柄 and the
register's 国保 and 後期 coverages: 擬制世帯主, 特定同一世帯所属者, 特定世帯, a move between
households mid-year and a household split. On SQLite and PostgreSQL.

The town (高松市 372013, 国保 370015, 後期 39370010):

- household H1: 世帯主 A works for a company (協会けんぽ), so is not a member: 擬制世帯主.
  Wife B is in 国保 throughout. Grandfather G turns 75 on 2020-06-10 and moves to 後期, still
  in H1 (two members stay, so H1 is no 特定世帯). Son C leaves on 2020-10-01 and founds H2
  (a split). F moves in from H4 on 2021-01-15.
- household H3: D turns 75 on 2020-08-01; E is left alone: a 特定世帯 from that day.
- household H4: K (世帯主) and F until F moves to H1.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.ids import mynumber_check
from kokuho.premiums import (
    NO_PERSON,
    HouseholdInput,
    UnknownMunicipality,
    household_inputs,
    household_summary,
    households_on,
    load_incomes,
)
from kokuho.registry import FileRejected, import_changes, load_insurers, load_residents, tables
from tests.feedfiles import KOKUHO, KYOKAI, acquire, change, lose, write_changes, write_csv

TOWN = "372013"
KOKI = "39370010"
RESIDENT_COLUMNS = [
    "resident_id", "mynumber", "name_kanji", "name_kana", "birth_date", "sex", "address",
    "municipality_code", "household_id", "relationship", "household_since",
]  # fmt: skip
INCOME_COLUMNS = [
    "fiscal_year", "resident_id", "salary", "pension", "other", "declared", "wage_earner",
    "fixed_asset_tax",
]  # fmt: skip
ADDRESS = {"H1": "番町一丁目1番1号", "H2": "番町二丁目2番2号", "H3": "番町三丁目3番3号",
           "H4": "番町四丁目4番4号"}  # fmt: skip
# name: (resident number, kana, birth date, sex, household, 続柄)
PEOPLE = {
    "A": (1, "エー", "1958-05-01", "1", "H1", "世帯主"),
    "B": (2, "ビー", "1960-07-01", "2", "H1", "妻"),
    "G": (3, "ジー", "1945-06-10", "1", "H1", "父"),
    "C": (4, "シー", "1990-01-20", "1", "H1", "子"),
    "D": (5, "ディー", "1945-08-01", "1", "H3", "世帯主"),
    "E": (6, "イー", "1950-02-02", "2", "H3", "妻"),
    "K": (7, "ケー", "1970-03-03", "1", "H4", "世帯主"),
    "F": (8, "エフ", "1995-09-09", "2", "H4", "子"),
}


def items(name: str, household: str | None = None) -> dict[str, str]:
    number, kana, birth, sex, home, _ = PEOPLE[name]
    return {
        "name_kanji": f"讃岐 {name}子" if sex == "2" else f"讃岐 {name}郎",
        "name_kana": f"サヌキ {kana}",
        "birth_date": birth,
        "sex": sex,
        "address": f"香川県高松市{ADDRESS[household or home]}",
    }


def resident(name: str, household: str | None = None, relationship: str | None = None,
             since: str = "") -> dict[str, str]:  # fmt: skip
    number, _, _, _, home, role = PEOPLE[name]
    body = f"{55500000000 + number:011d}"
    return {
        "resident_id": f"{number:011d}",
        "mynumber": body + str(mynumber_check(body)),
        **items(name, household),
        "municipality_code": TOWN,
        "household_id": household or home,
        "relationship": relationship or role,
        "household_since": since,
    }


def write_insurers(path: Path) -> Path:
    return write_csv(
        path,
        ["insurer_number", "name", "kind", "municipality_code"],
        [
            {"insurer_number": KOKUHO, "name": "高松市国民健康保険", "kind": "kokuho_municipal",
             "municipality_code": TOWN},
            {"insurer_number": KYOKAI, "name": "全国健康保険協会 香川支部", "kind": "kyokai"},
            {"insurer_number": KOKI, "name": "香川県後期高齢者医療広域連合", "kind": "koki"},
        ],
    )  # fmt: skip


def cover(event: str, name: str, day: str, insurer: str = KOKUHO) -> dict[str, str]:
    number = f"{1000 + PEOPLE[name][0]}"
    return acquire(event, day, insurer=insurer, number=number, person=items(name))


def end(event: str, name: str, day: str, insurer: str = KOKUHO) -> dict[str, str]:
    return lose(event, day, insurer=insurer, number=f"{1000 + PEOPLE[name][0]}")


@pytest.fixture
def town(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    changes = [
        cover("A1", "A", "2010-04-01", insurer=KYOKAI),
        *(cover(f"{n}1", n, "2019-04-01") for n in "BGCDEKF"),
        end("G2", "G", "2020-06-10"),
        cover("G3", "G", "2020-06-10", insurer=KOKI),
        end("D2", "D", "2020-08-01"),
        cover("D3", "D", "2020-08-01", insurer=KOKI),
        # The insurer hears of the moves (the address is one of the five items).
        change("C2", "2020-10-01", number="1004", address=items("C", "H2")["address"]),
        change("F2", "2021-01-15", number="1008", address=items("F", "H1")["address"]),
    ]
    import_changes(engine, write_changes(tmp_path / "changes.csv", changes))
    return engine


def register(engine: sa.Engine, path: Path, rows: list[dict[str, str]], key: bytes) -> None:
    load_residents(engine, write_csv(path, RESIDENT_COLUMNS, rows), key)


@pytest.fixture
def households(town: sa.Engine, tmp_path: Path, mynumber_key: bytes) -> sa.Engine:
    """The register as it stood first, then the split (C → H2) and F's move (H4 → H1)."""
    register(town, tmp_path / "r1.csv", [resident(n) for n in PEOPLE], mynumber_key)
    register(town, tmp_path / "r2.csv", later(), mynumber_key)
    return town


def later() -> list[dict[str, str]]:
    """The register's rows after the split and the move."""
    rows = [resident(n) for n in "ABGDEK"]
    rows.append(resident("C", "H2", "世帯主", "2020-10-01"))
    rows.append(resident("F", "H1", "子の妻", "2021-01-15"))
    return rows


def person_ids(engine: sa.Engine) -> dict[str, int]:
    """Name → the register's person id (found by birth date, each unique here)."""
    p = tables.persons.c
    with engine.connect() as connection:
        found = {
            row.birth_date: row.person_id
            for row in connection.execute(sa.select(p.birth_date, p.person_id))
        }
    return {name: found[dt.date.fromisoformat(v[2])] for name, v in PEOPLE.items()}


def test_households_on_a_date(households: sa.Engine) -> None:
    ids = person_ids(households)
    found = {h.household_id: h for h in households_on(households, TOWN, dt.date(2021, 5, 1))}
    assert set(found) == {"H1", "H2", "H3", "H4"}
    h1 = found["H1"]
    assert h1.members == tuple(sorted([ids["B"], ids["F"]]))
    assert h1.head_person_id == ids["A"] and h1.nominal_head  # 擬制世帯主
    assert h1.specified == (ids["G"],)  # moved to 後期, still in H1
    assert h1.specified_household_since is None  # G's move left B and C: two members
    assert found["H2"].members == (ids["C"],) and not found["H2"].nominal_head
    h3 = found["H3"]
    assert h3.members == (ids["E"],) and h3.specified == (ids["D"],)
    assert h3.specified_household_since == dt.date(2020, 8, 1)  # 特定世帯 from D's move
    assert h3.head_person_id == ids["D"] and h3.nominal_head  # D heads, but is in 後期
    assert found["H4"].members == (ids["K"],)


def test_history_gives_the_composition_on_any_date(households: sa.Engine) -> None:
    ids = person_ids(households)
    before = {h.household_id: h for h in households_on(households, TOWN, dt.date(2020, 6, 9))}
    assert set(before) == {"H1", "H3", "H4"}  # H2 does not exist yet
    assert before["H1"].members == tuple(sorted([ids["B"], ids["G"], ids["C"]]))
    assert before["H1"].specified == ()  # G is still a 国保 member the day before 75
    split_day = {h.household_id: h for h in households_on(households, TOWN, dt.date(2020, 10, 1))}
    assert split_day["H2"].members == (ids["C"],)
    assert ids["C"] not in split_day["H1"].members
    assert ids["F"] in split_day["H4"].members  # F moves on 2021-01-15


def test_a_household_is_no_longer_specified_once_the_mover_leaves(
    households: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """D (後期) moves from H3 to H4 on 2021-06-01: H3 is no 特定世帯 after that."""
    address = items("D", "H4")["address"]
    move = change("D4", "2021-06-01", insurer=KOKI, number="1005", address=address)
    import_changes(households, write_changes(tmp_path / "move.csv", [move]))
    rows = later()
    rows[3] = resident("D", "H4", "同居人", "2021-06-01")
    rows[4] = resident("E", "H3", "世帯主", "2021-06-01")
    register(households, tmp_path / "r3.csv", rows, mynumber_key)
    before = {h.household_id: h for h in households_on(households, TOWN, dt.date(2021, 5, 31))}
    after = {h.household_id: h for h in households_on(households, TOWN, dt.date(2021, 6, 1))}
    assert before["H3"].specified_household_since == dt.date(2020, 8, 1)
    assert after["H3"].specified == () and after["H3"].specified_household_since is None
    assert not after["H3"].nominal_head  # E heads now, and is a member
    assert after["H4"].specified == ()  # D did not move to 後期 from H4


def members_by_person(household: HouseholdInput) -> dict[int, Any]:
    return {member.person_id: member for member in household.members}


def write_incomes(path: Path, year: int, rows: dict[str, tuple[int, ...]]) -> Path:
    lines = [
        dict(zip(INCOME_COLUMNS, (year, f"{PEOPLE[n][0]:011d}", *values), strict=True))
        for n, values in rows.items()
    ]
    return write_csv(path, INCOME_COLUMNS, lines)


def test_household_inputs_for_a_fiscal_year(households: sa.Engine, tmp_path: Path) -> None:
    ids = person_ids(households)
    incomes = {
        "A": (4_000_000, 0, 0, 1, 1, 0),
        "B": (0, 0, 300_000, 1, 0, 52_000),
        "G": (0, 1_200_000, 0, 1, 1, 18_000),
        "C": (2_100_000, 0, 0, 1, 1, 0),
    }
    load_incomes(households, write_incomes(tmp_path / "fy2020.csv", 2020, incomes))
    found = {h.household_id: h for h in household_inputs(households, TOWN, 2020)}
    assert set(found) == {"H1", "H2", "H3", "H4"}
    h1 = found["H1"]
    assert h1.fiscal_year == 2020 and h1.municipality == TOWN
    assert h1.head_person_id == ids["A"]
    members = members_by_person(h1)
    head = members[ids["A"]]
    assert not head.is_member and head.income.salary == 4_000_000  # counts for 軽減
    assert (members[ids["G"]].acquired, members[ids["G"]].lost) == (
        dt.date(2019, 4, 1),
        dt.date(2020, 6, 10),
    )
    assert not members[ids["G"]].specified_same_household  # a member in FY2020
    # The split: C is H1's until 2020-10-01, then H2's.
    assert members[ids["C"]].lost == dt.date(2020, 10, 1)
    assert members_by_person(found["H2"])[ids["C"]].acquired == dt.date(2020, 10, 1)
    assert members_by_person(found["H2"])[ids["C"]].income.salary == 2_100_000
    # The move: F joins H1 on 2021-01-15 and leaves H4 that day.
    assert members[ids["F"]].acquired == dt.date(2021, 1, 15)
    assert members_by_person(found["H4"])[ids["F"]].lost == dt.date(2021, 1, 15)
    assert not members[ids["F"]].income.declared  # no income record: 未申告
    # 資産割 counts the members' own 固定資産税 (B, G), not the 擬制世帯主's.
    assert h1.fixed_asset_tax == 52_000 + 18_000

    next_year = {h.household_id: h for h in household_inputs(households, TOWN, 2021)}
    g = members_by_person(next_year["H1"])[ids["G"]]
    assert g.specified_same_household and not g.is_member
    assert next_year["H3"].specified_household_since == dt.date(2020, 8, 1)


def test_an_unknown_municipality_is_refused(households: sa.Engine) -> None:
    with pytest.raises(UnknownMunicipality, match="999999"):
        list(households_on(households, "999999", dt.date(2021, 5, 1)))


def test_an_older_resident_file_loads_but_places_no_one(
    town: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    old_columns = RESIDENT_COLUMNS[:8]
    rows = [{k: v for k, v in resident(n).items() if k in old_columns} for n in PEOPLE]
    report = load_residents(town, write_csv(tmp_path / "old.csv", old_columns, rows), mynumber_key)
    assert report.inserted == len(PEOPLE) and report.without_household == len(PEOPLE)
    summary = household_summary(town, TOWN, dt.date(2021, 5, 1))
    assert summary.households == 0
    assert summary.residents_without_household == len(PEOPLE)
    assert summary.unplaced_members == 5  # B, C, E, K, F (G and D are in 後期 by then)


def test_a_head_without_a_person_record_is_no_person(
    households: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """A 世帯主 the register holds no coverage for (e.g. on 生活保護) still heads."""
    stranger = {"name_kanji": "別人 花子", "name_kana": "ベツジン ハナコ"}
    rows = [row if row["name_kana"] != "サヌキ ケー" else {**row, **stranger} for row in later()]
    register(households, tmp_path / "r3.csv", rows, mynumber_key)
    found = {h.household_id: h for h in households_on(households, TOWN, dt.date(2020, 5, 1))}
    assert found["H4"].head_person_id == NO_PERSON and found["H4"].nominal_head


def test_household_errors_name_line_and_field(
    town: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    rows = [resident(n) for n in PEOPLE]
    rows[1] = {**rows[1], "relationship": "いとこ"}
    rows[4] = {**rows[4], "household_id": "H1", "relationship": "世帯主"}
    path = write_csv(tmp_path / "bad.csv", RESIDENT_COLUMNS, rows)
    with pytest.raises(FileRejected) as caught:
        load_residents(town, path, mynumber_key)
    found = {(e.line, e.field) for e in caught.value.errors}
    assert found == {(3, "relationship"), (6, "relationship")}
    assert "line 2" in str(caught.value.errors[1].reason)


def test_a_move_without_a_date_is_refused_and_changes_nothing(
    households: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    h = tables.resident_households
    with households.connect() as connection:
        before = connection.execute(sa.select(h).order_by(h.c.resident_id, h.c.valid_from)).all()
    rows = later()
    rows[6] = resident("C", "H3", "同居人")  # moves again, no 世帯異動日
    rows[0]["name_kanji"] = "讃岐 A太郎"  # a change the rejection must also undo
    with pytest.raises(FileRejected) as caught:
        register(households, tmp_path / "r3.csv", rows, mynumber_key)
    assert [(e.line, e.field) for e in caught.value.errors] == [(8, "household_since")]
    with households.connect() as connection:
        after = connection.execute(sa.select(h).order_by(h.c.resident_id, h.c.valid_from)).all()
        names = set(connection.scalars(sa.select(tables.residents.c.name_kanji)))
    assert after == before and "讃岐 A太郎" not in names


def test_reloading_the_same_register_changes_no_stay(
    households: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    rows = later()
    report = load_residents(
        households, write_csv(tmp_path / "again.csv", RESIDENT_COLUMNS, rows), mynumber_key
    )
    assert report.household_changes == 0
    with households.connect() as connection:
        stays = connection.scalar(
            sa.select(sa.func.count()).select_from(tables.resident_households)
        )
    assert stays == len(PEOPLE) + 2


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kokuho.synth import generate

    out = tmp_path_factory.mktemp("synth")
    generate(out, seed=11, persons=2000, start=dt.date(2020, 4, 1), years=2,
             checkups=False, claims=False, incentives=False)  # fmt: skip
    return out


def test_the_synthetic_register_has_one_head_per_household(synthetic: Path) -> None:
    import csv
    from collections import Counter

    with (synthetic / "residents.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    heads = Counter(row["household_id"] for row in rows if row["relationship"] == "世帯主")
    households = {row["household_id"] for row in rows}
    assert set(heads) == households and set(heads.values()) == {1}
    assert {"妻", "子"} <= {row["relationship"] for row in rows}


def test_the_synthetic_prefecture_forms_households_with_incomes(
    engine: sa.Engine, synthetic: Path, mynumber_key: bytes
) -> None:
    """The synthetic files in the real formats, loaded as a user would: every 国保 household
    of 高松市 forms, its members carry their incomes, and the incomes spread from none (7割
    軽減) to high (the cap)."""
    load_insurers(engine, synthetic / "insurers.csv")
    changes = sorted((synthetic / "changes").glob("*.csv"), key=lambda p: p.stem.split("_")[::-1])
    for path in changes:
        import_changes(engine, path)
    load_residents(engine, synthetic / "residents.csv", mynumber_key)
    for path in sorted((synthetic / "incomes").glob("*.csv")):
        assert load_incomes(engine, path).inserted > 0
    summary = household_summary(engine, TOWN, dt.date(2021, 4, 1))
    assert summary.households > 50 and summary.residents_without_household == 0
    # Members whose insurer record differs from the 住基 (planted notation or real
    # differences) are not matched by the five items: few, and counted, not lost silently.
    assert summary.unplaced_members < 0.1 * summary.members
    inputs = list(household_inputs(engine, TOWN, 2021))
    assert len(inputs) >= summary.households
    totals = [sum(m.income.total for m in h.members) for h in inputs]
    assert min(totals) == 0 and max(totals) > 5_000_000
    assert any(not m.is_member for h in inputs for m in h.members)  # 擬制世帯主 occur
    undeclared = sum(not m.income.declared for h in inputs for m in h.members)
    assert 0 < undeclared < sum(len(h.members) for h in inputs) / 5
    # Every 軽減 class occurs: FY2021 thresholds from the domain notes (43万円 + 10万円 per
    # 給与所得者等 beyond one; 5割 + 28.5万円, 2割 + 52万円 per member or 特定同一世帯所属者).
    classes = set()
    for h in inputs:
        n = sum(m.is_member or m.specified_same_household for m in h.members)
        earners = sum(m.income.wage_earner for m in h.members)
        base = 430_000 + 100_000 * max(earners - 1, 0)
        income = sum(m.income.total for m in h.members)
        if any(not m.income.declared for m in h.members):
            classes.add("未申告")
        elif income <= base:
            classes.add("7割")
        elif income <= base + 285_000 * n:
            classes.add("5割")
        elif income <= base + 520_000 * n:
            classes.add("2割")
        else:
            classes.add("none")
    assert classes == {"未申告", "7割", "5割", "2割", "none"}


def test_the_households_command_counts_and_refuses_bad_input(
    households: sa.Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from click.testing import CliRunner

    from kokuho.cli import main

    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    runner = CliRunner()
    command = ["premiums", "households", "--municipality", TOWN, "--on", "2021-05-01"]
    result = runner.invoke(main, [*command, "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert (counts["households"], counts["members"], counts["nominal_heads"]) == (4, 5, 2)
    assert (counts["specified_persons"], counts["specified_households"]) == (2, 1)
    assert counts["unplaced_members"] == 0
    assert "讃岐" not in result.stdout  # counts only, no personal data
    table = runner.invoke(main, [*command, "--csv", "-"])
    header, values = table.stdout.strip().splitlines()
    assert dict(zip(header.split(","), values.split(","), strict=True))["households"] == "4"
    for bad, reason in (
        (["--municipality", "37201", "--on", "2021-05-01"], "6-digit"),
        (["--municipality", "999999", "--on", "2021-05-01"], "no municipal 国保 insurer"),
    ):
        refused = runner.invoke(main, ["premiums", "households", *bad])
        assert refused.exit_code == 1 and reason in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    # A malformed day is a usage error naming its option (README: exit 2).
    refused = runner.invoke(main, ["premiums", "households", "--municipality", TOWN, "--on",
                                   "2021-02-30"])  # fmt: skip
    assert refused.exit_code == 2 and "Invalid value for '--on'" in refused.stderr
    assert "not a date" in refused.stderr


def test_bad_household_dates_and_columns(
    households: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    rows = later()
    rows[0] = resident("A", "H4", "同居人", "2020-10-01")  # a valid move: no error
    rows[1] = resident("B", "H4", "同居人", "1950-01-01")  # before her birth
    rows[2] = resident("G", "H4", "同居人", "2099-01-01")  # in the future
    rows[3] = {**resident("D"), "household_id": "H-3"}  # not letters or digits
    with pytest.raises(FileRejected) as caught:
        register(households, tmp_path / "bad.csv", rows, mynumber_key)
    found = {(e.line, e.field) for e in caught.value.errors}
    assert found == {(3, "household_since"), (4, "household_since"), (5, "household_id")}
    # A 続柄 without a 世帯番号 (or the reverse) is an error, not silently ignored.
    columns = [c for c in RESIDENT_COLUMNS if c != "household_id"]
    lone = [{k: v for k, v in resident("A").items() if k in columns}]
    with pytest.raises(FileRejected, match="household_id: required column is missing"):
        load_residents(households, write_csv(tmp_path / "lone.csv", columns, lone), mynumber_key)
    # A move dated on or before the current stay's start is refused.
    early = later()
    early[6] = resident("C", "H3", "同居人", "2020-10-01")  # C's stay in H2 began that day
    with pytest.raises(FileRejected, match="is not after the current stay's start 2020-10-01"):
        register(households, tmp_path / "early.csv", early, mynumber_key)


REMOVAL_COLUMNS = [*RESIDENT_COLUMNS, "removed_on", "removal_reason"]


def test_a_removal_ends_the_stay_and_the_membership(
    households: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """E (H3, alone since D moved to 後期 on 2020-08-01) dies on 2021-03-01: the resident file
    says 死亡 with the 消除日. Her stay ends that day although her 国保 coverage was never
    closed, so H3 exists on 2021-02-28 and not on 2021-03-01, and for FY2020 E is a member of
    H3 from 2020-04-01 (the year's start) to 2021-03-01 (11 months: April–February)."""
    rows = later()
    rows[4] = {**rows[4], "removed_on": "2021-03-01", "removal_reason": "死亡"}
    assert rows[4]["name_kana"] == "サヌキ イー"
    path = write_csv(tmp_path / "r3.csv", REMOVAL_COLUMNS, rows)
    report = load_residents(households, path, mynumber_key)
    assert (report.stays_ended, report.household_changes) == (1, 0)
    on = {h.household_id for h in households_on(households, TOWN, dt.date(2021, 2, 28))}
    assert "H3" in on
    on = {h.household_id for h in households_on(households, TOWN, dt.date(2021, 3, 1))}
    assert "H3" not in on
    e = person_ids(households)["E"]
    [h3] = [h for h in household_inputs(households, TOWN, 2020) if h.household_id == "H3"]
    member = members_by_person(h3)[e]
    assert (member.acquired, member.lost) == (dt.date(2019, 4, 1), dt.date(2021, 3, 1))
    # The same file again ends nothing more.
    again = load_residents(households, path, mynumber_key)
    assert (again.stays_ended, again.household_changes) == (0, 0)
    # No stay of E in FY2021: H3 is gone from the year.
    assert "H3" not in {h.household_id for h in household_inputs(households, TOWN, 2021)}


def test_removal_errors_name_line_and_field_and_change_nothing(
    households: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    h = tables.resident_households
    with households.connect() as connection:
        before = connection.execute(sa.select(h).order_by(h.c.resident_id, h.c.valid_from)).all()
    rows = later()
    rows[0] = {**rows[0], "removal_reason": "転出"}  # no 消除日
    rows[1] = {**rows[1], "removed_on": "2021-01-01", "removal_reason": "引越し"}
    rows[3] = {**rows[3], "removed_on": "1940-01-01", "removal_reason": "転出"}  # before birth
    with pytest.raises(FileRejected) as caught:
        load_residents(households, write_csv(tmp_path / "bad.csv", REMOVAL_COLUMNS, rows),
                       mynumber_key)  # fmt: skip
    found = {(e.line, e.field) for e in caught.value.errors}
    assert found == {(2, "removed_on"), (3, "removal_reason"), (5, "removed_on")}
    # C's stay in H2 began on 2020-10-01 (line 8): a removal on or before that day is refused.
    rows = later()
    rows[6] = {**rows[6], "removed_on": "2020-10-01", "removal_reason": "転出"}
    with pytest.raises(FileRejected) as caught:
        load_residents(households, write_csv(tmp_path / "bad2.csv", REMOVAL_COLUMNS, rows),
                       mynumber_key)  # fmt: skip
    assert [(e.line, e.field) for e in caught.value.errors] == [(8, "removed_on")]
    with households.connect() as connection:
        after = connection.execute(sa.select(h).order_by(h.c.resident_id, h.c.valid_from)).all()
    assert after == before


def test_a_return_after_a_removal_needs_its_date(
    households: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """K moves away (転出) on 2021-02-01 and comes back to H4 on 2021-06-01: the return needs
    a 世帯異動日 on or after the removal; with it, K has two stays and none in between."""
    rows = later()
    rows[5] = {**rows[5], "removed_on": "2021-02-01", "removal_reason": "転出"}
    assert rows[5]["name_kana"] == "サヌキ ケー"
    load_residents(households, write_csv(tmp_path / "r3.csv", REMOVAL_COLUMNS, rows),
                   mynumber_key)  # fmt: skip
    back = later()
    with pytest.raises(FileRejected) as caught:
        register(households, tmp_path / "r4.csv", back, mynumber_key)
    assert [(e.line, e.field) for e in caught.value.errors] == [(7, "household_since")]
    back[5] = {**back[5], "household_since": "2021-06-01"}
    report = load_residents(households, write_csv(tmp_path / "r5.csv", RESIDENT_COLUMNS, back),
                            mynumber_key)  # fmt: skip
    assert report.household_changes == 1
    k = person_ids(households)["K"]
    assert all(k not in h.members for h in households_on(households, TOWN, dt.date(2021, 3, 1)))
    found = {h.household_id: h for h in households_on(households, TOWN, dt.date(2021, 6, 1))}
    assert k in found["H4"].members
