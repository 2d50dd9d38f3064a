"""The migrations build exactly the tables the code declares, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import kokuho.boundary  # noqa: F401  (the boundary tables)
import kokuho.premiums  # noqa: F401  (the premiums tables)
import kokuho.provision  # noqa: F401  (the provision workflow's tables)
import kokuho.registry  # noqa: F401
import kokuho.verify  # noqa: F401
import kokuho.web  # noqa: F401  (the dashboard's tables)
from kokuho.store import AUDIT_SCHEMA, metadata

#: On SQLite these live in the audit file beside the register (migration 0013).
AUDIT_TABLES = ("audit_log", "card_replays")


def test_migrations_match_the_declared_tables(engine: sa.Engine) -> None:
    in_audit_file = AUDIT_TABLES if engine.dialect.name == "sqlite" else ()

    def in_main(obj: object, name: str | None, kind: str, *_: object) -> bool:
        table = obj if kind == "table" else getattr(obj, "table", None)
        return getattr(table, "name", name) not in in_audit_file

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": in_main})
        differences = compare_metadata(context, metadata)
    assert differences == []
    if not in_audit_file:
        return
    # The audit file's tables: the declared columns and indexes, and none left in the register.
    inspector = sa.inspect(engine)
    assert not set(AUDIT_TABLES) & set(inspector.get_table_names())
    assert set(inspector.get_table_names(schema=AUDIT_SCHEMA)) == set(AUDIT_TABLES)
    for name in AUDIT_TABLES:
        table = metadata.tables[name]
        columns = inspector.get_columns(name, schema=AUDIT_SCHEMA)
        assert [c["name"] for c in columns] == [c.name for c in table.columns]
        indexes = {i["name"] for i in inspector.get_indexes(name, schema=AUDIT_SCHEMA)}
        assert indexes == {i.name for i in table.indexes}


def test_upgrade_is_idempotent(engine: sa.Engine) -> None:
    from kokuho.store import upgrade

    upgrade(engine)
    with engine.connect() as connection:
        assert connection.scalar(sa.text("select version_num from alembic_version")) == "0016"
