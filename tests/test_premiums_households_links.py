"""The columnar read's stays on SQLite search the My Number links through an index SQLite
builds itself, instead of scanning ``person_mynumbers`` once per stay (issue 15 item 6: 45 s
of one municipality's read in the 20,000-person demo). The values are the reference's: the
random registers of test_premiums_households_columnar (links to other persons included) check
them on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from kokuho.premiums._households import HEAD
from kokuho.premiums._households_columnar import _STAYS, driver_sql, household_columns
from kokuho.premiums._households_query import links_materialized
from kokuho.store import connect
from tests.test_premiums_households import TOWN
from tests.test_premiums_households_columnar import random_register

NAMES = ["head", "year", "municipality", "end", "start"]
PARAMS = {"head": HEAD, "year": 2021, "municipality": TOWN, "end": "2022-04-01",
          "start": "2016-04-01"}  # fmt: skip


def test_the_links_are_searched_not_scanned_on_sqlite(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'kokuho.db'}")
    random_register(engine, 3)
    sql = links_materialized(driver_sql(_STAYS, "sqlite", NAMES), "sqlite")
    with engine.connect() as connection:
        cursor = connection.connection.cursor()
        plan = cursor.execute(f"EXPLAIN QUERY PLAN {sql}", PARAMS).fetchall()
        cursor.close()
    materialize = {row[0] for row in plan if str(row[3]).startswith("MATERIALIZE")}
    scans = [row for row in plan if str(row[3]).startswith("SCAN person_mynumbers")]
    # The one scan fills the materialised links; the join searches them.
    assert scans and all(row[1] in materialize for row in scans)
    assert any("AUTOMATIC" in str(row[3]) and "pm" in str(row[3]) for row in plan)
    members, houses = household_columns(engine, TOWN, 2021)
    assert houses.num_rows > 0 and members.num_rows >= houses.num_rows
    engine.dispose()


def test_other_databases_get_the_query_as_it_is() -> None:
    sql = driver_sql(_STAYS, "postgresql", NAMES)
    assert links_materialized(sql, "postgresql") == sql


def test_a_query_without_the_join_is_refused() -> None:
    with pytest.raises(ValueError, match="does not join person_mynumbers"):
        links_materialized("SELECT 1", "sqlite")
