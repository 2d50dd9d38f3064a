"""Migration 0013 on SQLite: the audit log and the claims move into the audit file beside the
register, losing nothing, and a run killed half-way is finished by the next one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.store import audit_database, connect, upgrade
from kokuho.verify import AuditWriter, verify_chain
from kokuho.verify._audit_record import AuditRecord

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _record(n: int) -> AuditRecord:
    return AuditRecord(actor="kc_test", institution_code="3710112347", purpose="care",
                       action="check_number", person_id=n, outcome="1",
                       detail={"asked": {"number": str(n)}})  # fmt: skip


def _at_0012_with_records(path: Path, records: int) -> None:
    engine = connect(f"sqlite:///{path}", migrate=False)
    upgrade(engine, "0012")
    writer = AuditWriter(engine)
    writer.write_many([_record(n) for n in range(1, records + 1)])
    writer.close()
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO main.card_replays (token, expires_at) VALUES ('t1', '2099-01-01')"
        )
    engine.dispose()


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as plain:
        return {
            row[0] for row in plain.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }


def test_the_log_of_a_0012_register_moves_whole(tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "kokuho.db"
    _at_0012_with_records(path, 25)
    assert {"audit_log", "card_replays"} <= _tables(path)
    engine = connect(f"sqlite:///{path}")  # to the head
    assert not {"audit_log", "card_replays"} & _tables(path)
    assert {"audit_log", "card_replays"} <= _tables(Path(audit_database(str(path))))
    result = verify_chain(engine)
    assert result.ok and result.records == 25
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT token FROM card_replays").scalars().all() == [
            "t1"
        ]
    # The chain goes on in the audit file.
    writer = AuditWriter(engine)
    assert writer.write(_record(26)) == 26
    writer.close()
    assert verify_chain(engine).records == 26
    engine.dispose()


def test_a_move_killed_after_the_copy_is_finished_without_doubles(
    tmp_path: Path, database_url: str
) -> None:
    """Killed between the copy's commit (in the audit file) and the drop (in the register):
    both files hold the rows; the next run keeps one of each and drops the register's."""
    path = tmp_path / "kokuho.db"
    _at_0012_with_records(path, 7)
    audit = Path(audit_database(str(path)))
    with sqlite3.connect(audit) as plain:  # what the killed run's copy committed
        plain.execute("ATTACH DATABASE ? AS register", (str(path),))
        for table in ("audit_log", "card_replays"):
            (create,) = plain.execute(
                "SELECT sql FROM register.sqlite_master WHERE name = ?", (table,)
            ).fetchone()
            plain.execute(create)
            plain.execute(f"INSERT INTO main.{table} SELECT * FROM register.{table}")
    engine = connect(f"sqlite:///{path}")
    assert not {"audit_log", "card_replays"} & _tables(path)
    result = verify_chain(engine)
    assert result.ok and result.records == 7
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT count(*) FROM card_replays")) == 1
    engine.dispose()


def test_a_new_register_starts_its_log_in_the_audit_file(tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "new.db"
    engine = connect(f"sqlite:///{path}")
    writer = AuditWriter(engine)
    writer.write(_record(1))
    writer.close()
    with sqlite3.connect(audit_database(str(path))) as plain:
        assert plain.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)
    assert "audit_log" not in _tables(path)
    engine.dispose()
