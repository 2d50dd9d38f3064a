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
from kokuho.store import metadata


def test_migrations_match_the_declared_tables(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_upgrade_is_idempotent(engine: sa.Engine) -> None:
    from kokuho.store import upgrade

    upgrade(engine)
    with engine.connect() as connection:
        assert connection.scalar(sa.text("select version_num from alembic_version")) == "0012"
