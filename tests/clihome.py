"""The command line as staff use it, for the CLI workflow tests: an installation home with
its SQLite database, commands run through click, their ``--json`` documents, and the service's
hash-chained audit log they write."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from kokuho.cli import main
from kokuho.store import connect
from kokuho.verify import tables as service_tables


def sqlite_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, sa.Engine]:
    """``$KOKUHO_HOME`` at ``tmp_path/home`` (set for the test) and an engine on its own
    SQLite database; the caller disposes of the engine."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("KOKUHO_HOME", str(home))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    return home, connect(f"sqlite:///{home / 'kokuho.db'}")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def ok_json(*args: str) -> dict[str, object]:
    """The ``--json`` document of a command that must succeed."""
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.output)
    return document


def audit_rows(home: Path, prefix: str, columns: Sequence[str]) -> list[Any]:
    """``columns`` of the audit records whose action starts with ``prefix``, in chain order."""
    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    try:
        with engine.connect() as connection:
            a = service_tables.audit_log.c
            query = sa.select(*(a[c] for c in columns)).where(a.action.like(f"{prefix}%"))
            return list(connection.execute(query.order_by(a.seq)).all())
    finally:
        engine.dispose()


def assert_audit_chain_intact() -> None:
    """``kokuho audit verify`` finds the hash chain whole."""
    chain = invoke("audit", "verify", "--json")
    assert chain.exit_code == 0 and json.loads(chain.output)["ok"] is True
