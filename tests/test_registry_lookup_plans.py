"""The change-feed import's look-ups probe an index once per key, whatever the planner knows.

A first month's file has thousands of keys while the run's rows are not yet analysed; a plain
join of the key array let PostgreSQL hash a whole table instead (a sequential scan of
feed_events per file). Each look-up is planned here with 3,000 keys on a register the
planner has no statistics for, and must search, never scan, the tables it reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.registry import import_changes, load_insurers
from kokuho.registry._feed import lock
from kokuho.registry._feed_lookup import joined_text, statements
from tests.feedfiles import acquire, write_changes, write_insurers

KEYS = 3000
TABLES = ("coverages", "coverage_terms", "persons", "feed_events")


def _params(dialect: str, name: str) -> list[object]:
    width = {"register": 4, "applied": 2}.get(name, 1)
    if dialect == "postgresql":
        return [[str(n) for n in range(KEYS)]] * width
    values = [[str(n)] * width if width > 1 else str(n) for n in range(KEYS)]
    return [json.dumps(values)]


def test_every_look_up_searches_an_index(engine: sa.Engine, tmp_path: Path) -> None:
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    import_changes(engine, write_changes(tmp_path / "a.csv", [acquire("E1", "2020-04-01")]))
    with engine.begin() as connection:
        lock(connection)
        sql = statements(connection)
        raw: Any = connection.connection.driver_connection
        for name, statement in vars(sql).items():
            if name == "dialect":
                continue
            params = _params(sql.dialect, name)
            if sql.dialect == "postgresql":
                assert raw.execute("SHOW jit").fetchone()[0] == "off"
                plan = [row[0] for row in raw.execute("EXPLAIN " + statement, params)]
                scans = [line for line in plan if "Seq Scan on" in line]
                assert not [s for s in scans if any(f" {t} " in s + " " for t in TABLES)], plan
            else:
                explain = "EXPLAIN QUERY PLAN " + statement
                plan = [row[3] for row in raw.execute(explain, params)]
                # SCAN w is the key list (json_each); the tables are t, p and ct.
                scans = [line for line in plan if line.startswith("SCAN ")]
                assert not [s for s in scans if s.split()[1] in ("t", "p", "ct")], plan


def test_every_joined_look_up_searches_an_index(engine: sa.Engine, tmp_path: Path) -> None:
    """The same on PostgreSQL with the keys joined into one text a column
    (``_feed_lookup.joined_text``), as a file's look-ups send them; SQLite has one form."""
    if engine.dialect.name != "postgresql":
        return
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    import_changes(engine, write_changes(tmp_path / "a.csv", [acquire("E1", "2020-04-01")]))
    with engine.begin() as connection:
        lock(connection)
        sql = statements(connection, joined=True)
        raw: Any = connection.connection.driver_connection
        for name, statement in vars(sql).items():
            if name == "dialect":
                continue
            width = len(_params(sql.dialect, name))
            params = [joined_text([str(n) for n in range(KEYS)])] * width
            plan = [row[0] for row in raw.execute("EXPLAIN " + statement, params)]
            scans = [line for line in plan if "Seq Scan on" in line]
            assert not [s for s in scans if any(f" {t} " in s + " " for t in TABLES)], plan
