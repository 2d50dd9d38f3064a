"""SQLite: the dashboard while a command (an import, 本算定) holds the database's write lock
past the busy wait (10 s; shortened here). Signing in writes (the account's tries, the
session): it answered 500 「サーバーで問題が起きました … システムの管理者にお知らせください」 and
logged a traceback. It must say the database is busy, 503 with Retry-After, and sign in once
the lock is free."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kokuho.web import create_app
from tests.busywait import short_busy_wait, write_lock_held
from tests.dashsite import CHECK, PREFECTURE, build_site, sign_in


def test_signing_in_while_a_command_writes_says_the_database_is_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "kokuho.db"
    built = build_site(f"sqlite:///{database}", tmp_path)
    short_busy_wait(monkeypatch)
    with TestClient(create_app(built.settings), raise_server_exceptions=False) as client:
        with write_lock_held(database):
            busy = sign_in(client, PREFECTURE)
        assert busy.status_code == 503
        assert busy.headers.get("retry-after")
        assert "書き込み中" in busy.text and "もう一度" in busy.text
        assert "管理者" not in busy.text
        assert sign_in(client, PREFECTURE).status_code == 303


def test_a_bulk_check_submitted_while_a_command_writes_is_refused_as_transient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same on the REST face: a bulk submission (a write) answered 500 internal-error;
    it is 503 with Retry-After, which a clinic's software retries."""
    database = tmp_path / "kokuho.db"
    built = build_site(f"sqlite:///{database}", tmp_path)
    short_busy_wait(monkeypatch)
    headers = {"Authorization": f"Bearer {built.token}"}
    body = {"items": [CHECK]}
    with TestClient(create_app(built.settings), raise_server_exceptions=False) as client:
        with write_lock_held(database):
            busy = client.post("/api/v1/checks/bulk", json=body, headers=headers)
        assert busy.status_code == 503
        assert busy.headers["content-type"].startswith("application/problem+json")
        assert busy.headers.get("retry-after")
        assert busy.json()["status"] == 503
        assert client.post("/api/v1/checks/bulk", json=body, headers=headers).status_code == 202
