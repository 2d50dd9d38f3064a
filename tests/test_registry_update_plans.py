"""The change-feed import's PostgreSQL updates probe the primary key once per row.

A file's changed persons, lost coverages and changed terms go as one ``UPDATE … FROM
unnest(…)`` each (``_feed_write._update_from``). On a register whose statistics the planner
knows, a plain join of a few thousand rows hashes the whole table (a sequential scan per
file); the statements must search the index however many rows they carry.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.registry import import_changes, load_insurers
from kokuho.registry._feed import lock
from kokuho.registry._feed_write import _joined_columns, statements
from tests.feedfiles import acquire, write_changes, write_insurers

ROWS = 3000
REGISTER = 20000
TABLES = ("persons", "coverages", "coverage_terms")

_GROW = (
    "INSERT INTO persons SELECT person_id + g, name_kanji, name_kana, birth_date, sex, "
    "address, match_key FROM persons, generate_series(1, %(n)s) AS g",
    "INSERT INTO coverages SELECT coverage_id + g, person_id + g, insurer_number, symbol, "
    "number || '-' || g, branch, acquired_on, lost_on, loss_reason, relationship, card_class, "
    "decided_on FROM coverages, generate_series(1, %(n)s) AS g",
    "INSERT INTO coverage_terms SELECT coverage_id + g, effective_from, copay_percent, "
    "elderly_copay_percent, limit_category, specific_disease FROM coverage_terms, "
    "generate_series(1, %(n)s) AS g",
    "ANALYZE persons",
    "ANALYZE coverages",
    "ANALYZE coverage_terms",
)

_ROW: dict[str, tuple[Any, ...]] = {
    "person": ("漢字", "カナ", dt.date(1970, 1, 1), 1, "住所", "k", 0),
    "loss": (dt.date(2021, 4, 1), None, 0),
    "terms": (30, None, None, None, 0, dt.date(2020, 4, 1)),
}


def _params(name: str) -> list[str]:
    template = _ROW[name]
    key = template.index(0)  # the id, made distinct per row
    rows = [(*template[:key], n + 1, *template[key + 1 :]) for n in range(ROWS)]
    joined = _joined_columns(rows)
    assert joined is not None
    return joined


def test_every_update_searches_the_primary_key(engine: sa.Engine, tmp_path: Path) -> None:
    if engine.dialect.name != "postgresql":
        return
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    import_changes(engine, write_changes(tmp_path / "a.csv", [acquire("E1", "2020-04-01")]))
    with engine.begin() as connection:
        lock(connection)
        raw: Any = connection.connection.driver_connection
        for statement in _GROW:
            raw.execute(statement, {"n": REGISTER})
        sql = statements(connection)
        for name, statement in sql.update_from.items():
            params = _params(name)
            plan = [row[0] for row in raw.execute("EXPLAIN " + statement, params)]
            scans = [line for line in plan if "Seq Scan on" in line]
            assert not [s for s in scans if any(f" {t} " in s + " " for t in TABLES)], plan
            assert any("Index" in line for line in plan), plan
        # The register is large enough that a plain join would scan it.
        plain = sql.update_from["loss"].replace(
            "t.coverage_id = ANY(ARRAY[w.coverage_id])", "t.coverage_id = w.coverage_id"
        )
        plan = [row[0] for row in raw.execute("EXPLAIN " + plain, _params("loss"))]
        assert any("Seq Scan on coverages" in line for line in plan), plan


def test_joined_columns_keep_null_and_empty_apart(engine: sa.Engine, tmp_path: Path) -> None:
    """NULL and an empty text survive the joined form; a value holding either mark makes
    the import fall back to one statement per row."""
    assert _joined_columns([("a\x1fb", 1)]) is None
    assert _joined_columns([("\x1e", 1)]) is None
    assert _joined_columns([("", 1)]) == ["\x1f", "\x1f1"]
    if engine.dialect.name != "postgresql":
        return
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    import_changes(engine, write_changes(tmp_path / "a.csv", [acquire("E1", "2020-04-01")]))
    with engine.begin() as connection:
        raw: Any = connection.connection.driver_connection
        (coverage_id,) = raw.execute("SELECT coverage_id FROM coverages").fetchone()
        rows: list[tuple[Any, ...]] = [(None, "", coverage_id)]
        joined = _joined_columns(rows)
        raw.execute(statements(connection).update_from["loss"], joined)
        found = raw.execute("SELECT lost_on, loss_reason FROM coverages").fetchall()
        assert found == [(None, "")]
        rows = [(dt.date(2021, 4, 1), "1", coverage_id)]
        raw.execute(statements(connection).update_from["loss"], _joined_columns(rows))
        found = raw.execute("SELECT lost_on, loss_reason FROM coverages").fetchall()
        assert found == [(dt.date(2021, 4, 1), "1")]
