"""The columnar household inputs (``household_columns``, straight from SQL) against the
per-household reference (``household_inputs``): the same households, members, incomes and
特定世帯 dates, on SQLite and PostgreSQL, for the hand-built town of
test_premiums_households (擬制世帯主, a move to 後期, a 特定世帯, a split, a move between
households) and for the synthetic prefecture."""

from __future__ import annotations

import datetime as dt
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
    from kokuho.premiums import _households_columnar as module

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
