"""The columnar household inputs (``household_columns``, straight from SQL) against the
per-household reference (``household_inputs``): the same households, members, incomes and
特定世帯 dates, on SQLite and PostgreSQL, for the hand-built town of
test_premiums_households (擬制世帯主, a move to 後期, a 特定世帯, a split, a move between
households) and for the synthetic prefecture."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from kokuho.premiums import (
    assess,
    assess_table,
    household_inputs,
    household_tables,
    load_incomes,
    load_premium_rules,
)
from kokuho.premiums._assess_columnar_tables import assessments_of
from kokuho.premiums._households_columnar import household_columns, read_households
from kokuho.premiums._households_unplaced import (
    NO_HOUSEHOLD,
    NO_RESIDENT,
    UnplacedMember,
    reasons,
    unplaced_members,
)
from kokuho.registry import import_changes, load_insurers, load_residents
from tests.feedfiles import write_csv
from tests.test_premiums_households import (  # noqa: F401  (fixtures)
    PEOPLE,
    RESIDENT_COLUMNS,
    TOWN,
    households,
    later,
    members_by_person,
    person_ids,
    register,
    resident,
    synthetic,
    town,
    write_incomes,
)


def normalised(members: pa.Table, houses: pa.Table) -> dict[str, Any]:
    """Household id → (household row, its member rows sorted): order-free."""
    by_house: dict[str, list[tuple[Any, ...]]] = {}
    for row in members.to_pylist():
        key = row.pop("household_id")
        by_house.setdefault(key, []).append(tuple(sorted(row.items(), key=lambda kv: kv[0])))
    out = {}
    for row in houses.to_pylist():
        key = row.pop("household_id")
        out[key] = (row, sorted(by_house.pop(key, []), key=repr))
    assert not by_house, f"members of no household: {sorted(by_house)}"
    return out


def both(engine: sa.Engine, year: int) -> tuple[dict[str, Any], dict[str, Any]]:
    reference = household_tables(household_inputs(engine, TOWN, year))
    return normalised(*reference), normalised(*household_columns(engine, TOWN, year))


@pytest.mark.parametrize("year", [2019, 2020, 2021])
def test_the_town_gives_the_reference_inputs(
    households: sa.Engine,  # noqa: F811
    tmp_path: Path,
    year: int,
) -> None:
    write_incomes(tmp_path / "i.csv", 2020, {"A": (3_000_000, 0, 0, 1, 1, 50_000),
                                             "B": (0, 800_000, 0, 1, 0, 12_000),
                                             "E": (0, 0, 0, 0, 0, 0)})  # fmt: skip
    load_incomes(households, tmp_path / "i.csv")
    reference, columnar = both(households, year)
    assert columnar == reference
    assert reference  # the comparison is not of two empty sets


def test_the_town_has_a_specified_household_and_a_nominal_head(
    households: sa.Engine,  # noqa: F811
) -> None:
    """The cases the comparison must cover occur: H3 is a 特定世帯 from D's 75th birthday
    (2020-08-01); H1's 世帯主 A is not a member (擬制世帯主), listed with no coverage."""
    _, columnar = both(households, 2020)
    h3, _ = columnar["H3"]
    assert h3["specified_household_since"] == dt.date(2020, 8, 1)
    _, h1_members = columnar["H1"]
    assert any(dict(m)["acquired"] is None and not dict(m)["specified_same_household"]
               for m in h1_members)  # fmt: skip


def test_the_synthetic_prefecture_gives_the_reference_inputs(
    engine: sa.Engine,
    synthetic: Path,  # noqa: F811
    mynumber_key: bytes,
) -> None:
    load_insurers(engine, synthetic / "insurers.csv")
    changes = sorted((synthetic / "changes").glob("*.csv"), key=lambda p: p.stem.split("_")[::-1])
    for path in changes:
        import_changes(engine, path)
    load_residents(engine, synthetic / "residents.csv", mynumber_key)
    for path in sorted((synthetic / "incomes").glob("*.csv")):
        load_incomes(engine, path)
    for year in (2020, 2021):
        reference, columnar = both(engine, year)
        assert len(reference) > 50
        assert columnar == reference


def test_an_empty_municipality_gives_empty_tables(households: sa.Engine) -> None:  # noqa: F811
    members, houses = household_columns(households, TOWN, 2000)
    assert members.num_rows == 0 and houses.num_rows == 0


def test_the_synthetic_assessments_agree_to_the_yen(
    engine: sa.Engine,
    synthetic: Path,  # noqa: F811
    mynumber_key: bytes,
) -> None:
    """assess_fiscal_year's path (columns, assess_table) gives the reference's Assessment
    for every household: every part, the 軽減 class and every 納期."""
    load_insurers(engine, synthetic / "insurers.csv")
    changes = sorted((synthetic / "changes").glob("*.csv"), key=lambda p: p.stem.split("_")[::-1])
    for path in changes:
        import_changes(engine, path)
    load_residents(engine, synthetic / "residents.csv", mynumber_key)
    for path in sorted((synthetic / "incomes").glob("*.csv")):
        load_incomes(engine, path)
    for year in (2020, 2021):
        rules = load_premium_rules(year, TOWN)
        reference = {
            h.household_id: assess(h, rules, with_reasons=False)
            for h in household_inputs(engine, TOWN, year)
        }
        columnar = assessments_of(assess_table(*household_columns(engine, TOWN, year), rules),
                                  rules)  # fmt: skip
        assert {a.household_id: a for a in columnar} == reference
        assert {a.reduction for a in columnar} >= {"7", "5", "2", None}


def test_the_cursor_path_gives_the_same_columns(
    households: sa.Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lines the parser cannot read (an id holding the separator) are read again through the
    driver's cursor, with the same result."""
    from kokuho.premiums import _households_columnar_read as module  # where _parsed finds it

    expected = normalised(*household_columns(households, TOWN, 2020))

    def unreadable(*_: object) -> list[pa.Array]:
        raise pa.ArrowInvalid("CSV parse error: Expected 13 columns, got 14")

    monkeypatch.setattr(module, "_parse", unreadable)
    assert normalised(*household_columns(households, TOWN, 2020)) == expected
    assert expected


def test_a_member_differing_from_the_juki_is_listed_not_dropped(
    households: sa.Engine,  # noqa: F811
    tmp_path: Path,
    mynumber_key: bytes,
) -> None:
    """K's resident record now differs in the name (one of the five items) and no My Number
    link is verified: K, covered by 国保 since 2019, is in no household. Both paths list K
    with the reason instead of dropping K silently; everyone else is placed."""
    stranger = {"name_kanji": "別人 花子", "name_kana": "ベツジン ハナコ"}
    rows = [row if row["name_kana"] != "サヌキ ケー" else {**row, **stranger} for row in later()]
    register(households, tmp_path / "r3.csv", rows, mynumber_key)
    k = person_ids(households)["K"]
    expected = [UnplacedMember(k, NO_RESIDENT)]
    assert unplaced_members(households, TOWN, 2020) == expected
    _, _, unplaced = read_households(households, TOWN, 2020)
    assert reasons(households, unplaced.tolist()) == expected
    assert "five basic items" in expected[0].text


def test_residents_without_a_household_are_listed(
    town: sa.Engine,  # noqa: F811
    tmp_path: Path,
    mynumber_key: bytes,
) -> None:
    """An older resident file (no 世帯番号): the residents match the insured by the five
    items but stay in no household. FY2021's 国保 members are B, C, E, K and F (A is in
    協会けんぽ; G and D left 国保 for 後期 in 2020): all five are listed. B, E and K have a
    resident with their items but no household; C and F reported their moves to the insurer
    (the change feed's new address) while this file has their first address: no resident
    has their items, so no_resident."""
    old_columns = RESIDENT_COLUMNS[:8]
    rows = [{k: v for k, v in resident(n).items() if k in old_columns} for n in PEOPLE]
    load_residents(town, write_csv(tmp_path / "old.csv", old_columns, rows), mynumber_key)
    ids = person_ids(town)
    expected = sorted(
        [UnplacedMember(ids[n], NO_HOUSEHOLD) for n in "BEK"]
        + [UnplacedMember(ids[n], NO_RESIDENT) for n in "CF"]
    )
    assert sorted(unplaced_members(town, TOWN, 2021)) == expected
    members, houses, unplaced = read_households(town, TOWN, 2021)
    assert houses.num_rows == 0
    assert sorted(reasons(town, unplaced.tolist())) == expected


def random_register(engine: sa.Engine, seed: int) -> None:
    """A small register of awkward shapes, written straight into the tables: residents who
    move between households and come back, several 世帯主 in one household (ties on the day),
    stays in another municipality, coverages with gaps, moves from 国保 to 後期 on the day
    of the loss, two persons sharing the five items, links by My Number to another person,
    residents matching no person, missing and 未申告 incomes."""
    from kokuho.premiums._tables import premium_income_files, premium_incomes
    from kokuho.registry import tables as t

    rng = random.Random(seed)

    def day() -> dt.date:
        return dt.date(2010, 1, 1) + dt.timedelta(days=rng.randrange(14 * 365))

    persons, residents, links, stays, coverages, incomes = [], [], [], [], [], []
    n = 120
    for pid in range(1, n + 1):
        key = f"k{pid if rng.random() > 0.05 else pid - 1}"
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(80 * 365))
        persons.append(
            {
                "person_id": pid,
                "name_kanji": "x",
                "name_kana": "x",
                "birth_date": birth,
                "sex": 1,
                "address": "x",
                "match_key": key,
            }
        )
        start = day()
        for k in range(rng.choice([0, 1, 1, 2, 3])):
            insurer = rng.choice(["370015", "370015", "01370014"])
            lost = start + dt.timedelta(days=rng.randrange(1, 2000)) if rng.random() < 0.6 else None
            coverages.append(
                {
                    "person_id": pid,
                    "insurer_number": insurer,
                    "symbol": "1",
                    "number": str(pid),
                    "branch": f"{k:02d}",
                    "acquired_on": start,
                    "lost_on": lost,
                    "relationship": 1,
                    "card_class": "01",
                }
            )
            if lost is None:
                break
            if insurer == "370015" and rng.random() < 0.3:  # a move to 後期 that day
                coverages.append(
                    {
                        "person_id": pid,
                        "insurer_number": "39370010",
                        "symbol": "1",
                        "number": str(pid),
                        "branch": "99",
                        "acquired_on": lost,
                        "lost_on": None,
                        "relationship": 1,
                        "card_class": "01",
                    }
                )
                break
            start = lost + dt.timedelta(days=rng.choice([0, 0, 40, 400]))
    for r in range(1, n + 11):
        rid = f"R{r:04d}"
        key = f"k{r}" if r <= n else "nobody"
        residents.append(
            {
                "resident_id": rid,
                "mynumber_hmac": f"h{r}",
                "name_kanji": "x",
                "name_kana": "x",
                "birth_date": persons[(r - 1) % n]["birth_date"],
                "sex": 1,
                "address": "x",
                "municipality_code": TOWN,
                "match_key": key,
            }
        )
        if rng.random() < 0.3:
            links.append(
                {
                    "person_id": r if r <= n and rng.random() < 0.8 else rng.randrange(1, n + 1),
                    "mynumber_hmac": f"h{r}",
                    "resident_id": rid,
                    "verified_at": dt.datetime(2020, 1, 1),
                    "request_id": r,
                }
            )
        since = day()
        for _ in range(rng.choice([1, 1, 2, 3])):
            until = (
                since + dt.timedelta(days=rng.randrange(30, 1500)) if rng.random() < 0.5 else None
            )
            stays.append(
                {
                    "resident_id": rid,
                    "valid_from": since,
                    "valid_to": until,
                    "municipality_code": TOWN if rng.random() < 0.9 else "372021",
                    "household_id": f"H{rng.randrange(40):02d}",
                    "relationship": "世帯主" if rng.random() < 0.35 else "子",
                }
            )
            if until is None:
                break
            since = until + dt.timedelta(days=rng.choice([0, 0, 90]))
        if rng.random() < 0.8:
            incomes.append({"fiscal_year": 2021, "resident_id": rid,
                            "salary": rng.choice([0, 500_000, 3_000_000]),
                            "pension": rng.choice([0, 1_200_000]), "other": 0,
                            "declared": rng.random() < 0.9, "wage_earner": rng.random() < 0.5,
                            "fixed_asset_tax": rng.choice([0, 30_000]), "file_id": 1,
                            "line": r})  # fmt: skip
    # A person twice in one day's links would break the unique hash: keep one link each.
    links = list({link["person_id"]: link for link in links}.values())
    with engine.begin() as connection:
        connection.execute(t.insurers.insert(), [
            {"insurer_number": "370015", "name": "国保", "kind": "kokuho_municipal",
             "prefecture": "37", "municipality_code": TOWN},
            {"insurer_number": "39370010", "name": "後期", "kind": "koki", "prefecture": "37",
             "municipality_code": None},
            {"insurer_number": "01370014", "name": "協会", "kind": "kyokai", "prefecture": "37",
             "municipality_code": None},
        ])  # fmt: skip
        connection.execute(t.persons.insert(), persons)
        connection.execute(t.residents.insert(), residents)
        if links:
            connection.execute(t.person_mynumbers.insert(), links)
        connection.execute(t.resident_households.insert(), stays)
        connection.execute(t.coverages.insert(), coverages)
        connection.execute(
            premium_income_files.insert(),
            [
                {
                    "file_id": 1,
                    "name": "r",
                    "sha256": "0" * 64,
                    "fiscal_year": 2021,
                    "loaded_at": dt.datetime(2021, 5, 1, tzinfo=dt.UTC),
                    "rows": len(incomes),
                }
            ],
        )
        connection.execute(premium_incomes.insert(), incomes)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6, 7, 8])
def test_random_registers_give_the_reference_inputs(engine: sa.Engine, seed: int) -> None:
    random_register(engine, seed)
    for year in (2016, 2019, 2021, 2023):
        reference, columnar = both(engine, year)
        assert columnar == reference, f"seed {seed}, FY{year}"
        _, _, unplaced = read_households(engine, TOWN, year)
        assert reasons(engine, unplaced.tolist()) == unplaced_members(engine, TOWN, year)
    assert reference


def test_a_removal_gives_the_reference_inputs(
    households: sa.Engine,  # noqa: F811
    tmp_path: Path,
    mynumber_key: bytes,
) -> None:
    """E's 死亡 on 2021-03-01 and K's 転出 on 2021-02-01 (docs/formats.md §3) end their stays in
    both paths alike."""
    rows = later()
    rows[4] = {**rows[4], "removed_on": "2021-03-01", "removal_reason": "死亡"}
    rows[5] = {**rows[5], "removed_on": "2021-02-01", "removal_reason": "転出"}
    columns = [*RESIDENT_COLUMNS, "removed_on", "removal_reason"]
    load_residents(households, write_csv(tmp_path / "r3.csv", columns, rows), mynumber_key)
    for year in (2020, 2021):
        reference, columnar = both(households, year)
        assert columnar == reference
    assert "H3" in both(households, 2020)[1] and "H3" not in both(households, 2021)[1]


def away_and_back(engine: sa.Engine, path: Path, key: bytes, moves: list[tuple[str, str]]) -> None:
    """K (H4's 世帯主) leaves (転出) and comes back to H4, once per (removed_on, back) pair."""
    for k, (gone, back) in enumerate(moves):
        rows = later()
        rows[5] = {**rows[5], "removed_on": gone, "removal_reason": "転出"}
        columns = [*RESIDENT_COLUMNS, "removed_on", "removal_reason"]
        load_residents(engine, write_csv(path / f"gone{k}.csv", columns, rows), key)
        rows = later()
        rows[5] = {**rows[5], "household_since": back}
        load_residents(engine, write_csv(path / f"back{k}.csv", RESIDENT_COLUMNS, rows), key)


def test_months_away_between_two_stays_are_not_charged(
    households: sa.Engine,  # noqa: F811
    tmp_path: Path,
    mynumber_key: bytes,
) -> None:
    """K, in 国保 since 2019-04-01 and never lost, leaves on 2021-08-01 and is back on
    2021-11-15. FY2021 charges the months whose last day K is in the household: April–July
    (4) and November–March (5): 9 months, not 12. Both paths give the gap and the bill."""
    away_and_back(households, tmp_path, mynumber_key, [("2021-08-01", "2021-11-15")])
    k = person_ids(households)["K"]
    [h4] = [h for h in household_inputs(households, TOWN, 2021) if h.household_id == "H4"]
    member = members_by_person(h4)[k]
    assert (member.acquired, member.lost) == (dt.date(2019, 4, 1), None)
    assert member.gaps == ((dt.date(2021, 8, 1), dt.date(2021, 11, 15)),)
    reference, columnar = both(households, 2021)
    assert columnar == reference
    rules = load_premium_rules(2021, TOWN)
    bill = assess(h4, rules)
    assert any("賦課月数 9か月" in r.text for p in bill.parts for r in p.reasons)
    [row] = assessments_of(assess_table(*household_tables([h4]), rules), rules)
    assert row == assess(h4, rules, with_reasons=False)


def test_a_member_away_twice_is_assessed_by_the_reference(
    households: sa.Engine,  # noqa: F811
    tmp_path: Path,
    mynumber_key: bytes,
) -> None:
    """Two gaps in FY2021 (the columns hold one): the columnar reader says so, and
    assess_fiscal_year assesses the year through the reference path, to the same yen."""
    from kokuho.premiums import IncomesMissing, assess_fiscal_year
    from kokuho.premiums._assess_columnar_tables import ColumnarInputError

    away_and_back(households, tmp_path, mynumber_key,
                  [("2021-05-01", "2021-06-15"), ("2021-09-01", "2021-12-01")])  # fmt: skip
    # The year's incomes: a 本算定 without any is refused on this path too.
    with pytest.raises(IncomesMissing, match="FY2021"):
        assess_fiscal_year(households, TOWN, 2021, dt.date(2021, 12, 20))
    income = {"K": (1_500_000, 0, 0, 1, 1, 0)}
    load_incomes(households, write_incomes(tmp_path / "fy2021.csv", 2021, income))
    k = person_ids(households)["K"]
    rules = load_premium_rules(2021, TOWN)
    inputs = list(household_inputs(households, TOWN, 2021))
    [h4] = [h for h in inputs if h.household_id == "H4"]
    assert len(members_by_person(h4)[k].gaps) == 2
    with pytest.raises(ColumnarInputError):
        household_columns(households, TOWN, 2021)
    run = assess_fiscal_year(households, TOWN, 2021, dt.date(2021, 12, 20))
    assert run.total == sum(assess(h, rules, with_reasons=False).total for h in inputs)
    assert run.households == len(inputs)
