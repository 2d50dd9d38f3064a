"""Reusable benchmark registers (ベンチマーク用台帳の再利用, issue 15).

Writing a register of 10 M persons takes minutes; the eligibility-check benchmark only reads it
(and appends audit records and used attestations). ``--reuse-dir DIR`` keeps each generated
register in ``DIR/<key>`` (the SQLite file, or for PostgreSQL the home folder next to a schema
named after the key) and reuses it on the next run.

The key names everything the register's content depends on: the benchmark, the backend, the
persons, the cards, the migration head of the code (``kokuho.store``'s Alembic chain) and
``GENERATOR_VERSION`` (bump it whenever ``_fill.py`` or ``_checks_register.generate``
changes what is written). A ``ready.json`` written last marks an entry complete; an entry
without it is a generation that was interrupted and is rebuilt.

When the code's migration head moves on (a new migration), an entry of the same register at an
older head that is an ancestor of the new one is *adopted*: renamed to the new key and brought
up to date by the product's own migrations (what ``connect`` does to every database), instead
of generated again. ``upgrade=False`` turns that off (the old entry is then left alone and a
new one generated).

Between runs the entry is reset to the state it was generated in: the audit records after the
generation's chain head are deleted (so the chain ends at the same ``seq`` and hash and
``kokuho audit verify`` walks the same short chain every time) and every other small table the
run filled (used attestations, challenges, …) is emptied back to its generated row count.
A table that grew but was not empty when generated cannot be reset safely: that is an error
asking for the entry to be deleted. The tables are read from the database itself (every
context's, not only those the benchmark imports). Each run's kill-test arithmetic (answers
received ≤ audit records added) counts the records added during that run, so it does not
depend on the reset.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from kokuho.store import AUDIT_SCHEMA, connect
from kokuho.store import upgrade as upgrade_schema

#: Bump when what a register holds changes (``_fill.py``, ``_checks_register.generate``).
GENERATOR_VERSION = 1
READY = "ready.json"
#: Tables written in bulk by the generator and never by a check: too large to count each run.
BIG_TABLES = frozenset({"persons", "coverages", "coverage_terms"})
AUDIT_TABLE = "audit_log"
_NAME = re.compile(r"^(?P<kind>[a-z]+)-(?P<backend>sqlite|postgres)-p(?P<persons>\d+)"
                   r"-c(?P<cards>\d+)-g(?P<generator>\d+)-m(?P<head>[0-9A-Za-z_]+)$")  # fmt: skip


class CacheError(RuntimeError):
    """A cached register cannot be used; the message says which and what to do."""


@dataclass(frozen=True)
class CacheKey:
    """What a cached register's content depends on."""

    kind: str
    backend: str
    persons: int
    cards: int
    head: str
    generator: int = GENERATOR_VERSION

    @property
    def name(self) -> str:
        return (f"{self.kind}-{self.backend}-p{self.persons}-c{self.cards}-g{self.generator}"
                f"-m{self.head}")  # fmt: skip

    @property
    def schema(self) -> str:
        """The PostgreSQL schema of the entry (lower case, at most 63 bytes)."""
        return "kbc_" + self.name.lower().replace("-", "_")

    @classmethod
    def parse(cls, name: str) -> CacheKey | None:
        match = _NAME.match(name)
        if match is None:
            return None
        return cls(match["kind"], match["backend"], int(match["persons"]), int(match["cards"]),
                   match["head"], int(match["generator"]))  # fmt: skip


def migration_chain() -> list[str]:
    """The code's Alembic revisions, oldest first; the last is the head."""
    folder = files("kokuho.store") / "migrations"
    scripts = ScriptDirectory(str(folder))
    head = scripts.get_current_head()
    if head is None:
        raise CacheError("kokuho.store has no migration head")
    return [revision.revision for revision in scripts.walk_revisions("base", head)][::-1]


def migration_head() -> str:
    return migration_chain()[-1]


def database_url(key: CacheKey, folder: Path, postgres: str) -> str:
    """Where the entry's database is: a file in its home, or its schema on ``postgres``."""
    if key.backend == "sqlite":
        return f"sqlite:///{folder / 'home' / 'kokuho.db'}"
    return f"{postgres}?options=-csearch_path%3D{key.schema}"


def _admin(postgres: str, statement: str) -> None:
    engine = sa.create_engine(postgres)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement))
    finally:
        engine.dispose()


def create_schema(key: CacheKey, postgres: str) -> None:
    _admin(postgres, f'DROP SCHEMA IF EXISTS "{key.schema}" CASCADE')
    _admin(postgres, f'CREATE SCHEMA "{key.schema}"')


def discard(root: Path, key: CacheKey, postgres: str) -> None:
    """Removes an entry: its folder, and its schema on PostgreSQL."""
    if key.backend == "postgres":
        _admin(postgres, f'DROP SCHEMA IF EXISTS "{key.schema}" CASCADE')
    shutil.rmtree(root / key.name, ignore_errors=True)


def read_ready(folder: Path) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = json.loads((folder / READY).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return loaded


def write_ready(folder: Path, meta: dict[str, Any]) -> None:
    """Written last and atomically: its presence says the entry is complete."""
    partial = folder / (READY + ".partial")
    partial.write_text(json.dumps(meta, ensure_ascii=False) + "\n", encoding="utf-8")
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(folder / READY)


def _tables(connection: sa.Connection) -> tuple[sa.Table, list[sa.Table]]:
    """The audit log and the other small tables of the database, parents first. Read from the
    database, not from the code's metadata: it also holds the tables of contexts the benchmark
    does not import (a server process may write to any of them)."""
    reflected = sa.MetaData()
    reflected.reflect(connection)
    audit = reflected.tables.get(AUDIT_TABLE)
    if connection.dialect.name == "sqlite" and audit is None:
        # The audit log and the claims: in the audit file beside the register (migration 0013).
        reflected.reflect(connection, schema=AUDIT_SCHEMA)
        audit = reflected.tables[f"{AUDIT_SCHEMA}.{AUDIT_TABLE}"]
    skip = BIG_TABLES | {AUDIT_TABLE, "alembic_version"}
    small = [t for t in reflected.sorted_tables if t.name not in skip]
    return audit, small


def snapshot(engine: sa.Engine) -> dict[str, Any]:
    """The state a reset returns to: the audit chain's last ``seq`` and the row counts of the
    small tables."""
    with engine.connect() as connection:
        audit, small = _tables(connection)
        counts = {
            table.name: int(connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
            for table in small
        }
        head = connection.scalar(sa.select(sa.func.max(audit.c.seq)))
    return {"audit_head_seq": int(head or 0), "counts": counts}


def reset(engine: sa.Engine, pristine: dict[str, Any]) -> dict[str, int]:
    """Deletes what runs added since ``pristine`` (see the module's docstring); returns the rows
    deleted by table."""
    deleted: dict[str, int] = {}
    counts: dict[str, int] = pristine["counts"]
    with engine.begin() as connection:
        audit, small = _tables(connection)
        gone = connection.execute(sa.delete(audit).where(audit.c.seq > pristine["audit_head_seq"]))
        if gone.rowcount:
            deleted[AUDIT_TABLE] = gone.rowcount
        for table in reversed(small):  # children before parents
            if table.name not in counts:
                continue  # not counted when generated (an older snapshot): state unknown, kept
            now = int(connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
            before = counts[table.name]
            if now == before:
                continue
            if before:
                raise CacheError(f"table {table.name} went from {before} to {now} rows and was "
                                 "not empty when generated: delete the cached entry")  # fmt: skip
            deleted[table.name] = connection.execute(sa.delete(table)).rowcount
    return deleted


def adopt(root: Path, key: CacheKey, postgres: str) -> CacheKey | None:
    """Renames a complete entry of the same register at an older migration head (an ancestor
    of ``key.head``) to ``key`` and migrates it; returns the old key, or None if there is none.
    The newest such head is taken."""
    chain = migration_chain()
    if key.head not in chain:
        return None
    found: list[tuple[int, CacheKey]] = []
    for folder in root.iterdir() if root.is_dir() else []:
        old = CacheKey.parse(folder.name)
        if old is None or replace(old, head=key.head) != key or old.head == key.head:
            continue
        if old.head in chain and read_ready(folder) is not None:
            found.append((chain.index(old.head), old))
    if not found:
        return None
    old = max(found, key=lambda item: item[0])[1]
    (root / old.name).rename(root / key.name)
    if key.backend == "postgres":
        _admin(postgres, f'ALTER SCHEMA "{old.schema}" RENAME TO "{key.schema}"')
    folder = root / key.name
    meta = read_ready(folder) or {}
    started = time.perf_counter()
    engine = connect(database_url(key, folder, postgres), migrate=False)
    try:
        # Back to the generated state under the old schema first (a run may have been cut
        # off), then the product's migrations, then the new generated state: tables or rows a
        # migration adds are part of it.
        reset(engine, meta["pristine"])
        upgrade_schema(engine)
        meta["pristine"] = snapshot(engine)
    finally:
        engine.dispose()
    meta["key"] = asdict(key)
    meta.setdefault("upgraded", []).append(
        {"from": old.head, "to": key.head, "seconds": round(time.perf_counter() - started, 1)}
    )
    write_ready(folder, meta)
    return old


def prepare(root: Path, key: CacheKey, postgres: str, upgrade: bool) -> dict[str, Any] | None:
    """The entry's ``ready.json`` if it is complete (after adopting an older head when
    ``upgrade``); None when it must be generated, its folder then made empty (and its schema
    created anew on PostgreSQL)."""
    root.mkdir(parents=True, exist_ok=True)
    folder = root / key.name
    meta = read_ready(folder)
    if meta is None and upgrade and not folder.exists() and adopt(root, key, postgres):
        meta = read_ready(folder)
    if meta is not None:
        return meta
    # Interrupted or never made: start clean.
    with contextlib.suppress(sa.exc.SQLAlchemyError):
        discard(root, key, postgres)
    (folder / "home").mkdir(parents=True)
    if key.backend == "postgres":
        create_schema(key, postgres)
    return None
