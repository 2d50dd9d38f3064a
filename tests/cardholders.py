"""The register a card test starts from: Taro (国保 1001 from 2020-04-01) with a verified My
Number link (the HMAC only), and the institutions that check his card."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa

from kokuho.registry import import_changes, load_insurers
from kokuho.registry import tables as r
from kokuho.verify import load_institutions
from tests.feedfiles import acquire, write_changes, write_csv, write_insurers


def link_my_number(engine: sa.Engine, number: str = "1001", at: dt.datetime | None = None) -> None:
    """Links the holder of 国保 ``number`` to a verified My Number (cards go to them only)."""
    with engine.begin() as connection:
        person = connection.scalar(
            sa.select(r.coverages.c.person_id).where(r.coverages.c.number == number)
        )
        connection.execute(
            r.person_mynumbers.insert().values(
                person_id=person, mynumber_hmac="a" * 64, resident_id="00000000001",
                verified_at=at or dt.datetime.now(dt.UTC), request_id=1,
            )
        )  # fmt: skip


def write_institutions(path: Path, names: Mapping[str, str]) -> Path:
    """An institutions file: every code of ``names`` active under its name."""
    rows = [{"institution_code": c, "name": n, "status": "active"} for c, n in names.items()]
    return write_csv(path, list(rows[0]), rows)


def seed_taro(engine: sa.Engine, folder: Path, institutions: Mapping[str, str]) -> None:
    """Taro alone in the register, linked, and ``institutions`` (code → name) loaded."""
    load_insurers(engine, write_insurers(folder / "i.csv"))
    import_changes(engine, write_changes(folder / "c.csv", [acquire("K1", "2020-04-01")]))
    link_my_number(engine)
    load_institutions(engine, write_institutions(folder / "inst.csv", institutions))


def refuse_deletes(connection: sa.Connection, table: str = "card_replays") -> str:
    """A trigger that makes every DELETE from ``table`` fail (a purge that fails), on SQLite or
    PostgreSQL; returns the statement that drops it again."""
    if connection.dialect.name == "sqlite":
        # A trigger lives in its table's file: the claims are in the audit file.
        schema = "audit." if table in ("audit_log", "card_replays") else ""
        connection.execute(sa.text(
            f"CREATE TRIGGER {schema}no_delete BEFORE DELETE ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'no delete'); END"
        ))  # fmt: skip
        return f"DROP TRIGGER {schema}no_delete"
    connection.execute(sa.text(
        "CREATE FUNCTION no_delete() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'no delete'; END $$"
    ))  # fmt: skip
    connection.execute(sa.text(
        f"CREATE TRIGGER no_delete BEFORE DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION no_delete()"
    ))  # fmt: skip
    return f"DROP TRIGGER no_delete ON {table}"
