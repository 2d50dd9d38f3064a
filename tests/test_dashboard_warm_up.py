"""KOKUHO_DASHBOARD_WARM_UP: service nodes that only answer checks do not compute the
dashboard's figures at start-up (over a national register they cost each process tens of
seconds of CPU the checks wait for); the default keeps the warm-up, in one process of a node
only (a lock in the home)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kokuho.config import Settings
from kokuho.web import create_app
from kokuho.web._app import WARM_UP_LOCK, claim_warm_up
from kokuho.web.dashboard import Dashboard
from tests.conftest import small_service


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, True), ("1", True), ("0", False), (" 0 ", False)]
)
def test_the_switch_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, raw: str | None, expected: bool
) -> None:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    if raw is None:
        monkeypatch.delenv("KOKUHO_DASHBOARD_WARM_UP", raising=False)
    else:
        monkeypatch.setenv("KOKUHO_DASHBOARD_WARM_UP", raw)
    assert Settings.from_env().dashboard_warm_up is expected


@pytest.mark.parametrize("raw", ["yes", "true", "2", "00", "１"])
def test_anything_but_one_or_zero_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, raw: str
) -> None:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    monkeypatch.setenv("KOKUHO_DASHBOARD_WARM_UP", raw)
    with pytest.raises(ValueError, match="KOKUHO_DASHBOARD_WARM_UP"):
        Settings.from_env()


@pytest.mark.parametrize("warm_up", [True, False])
def test_the_app_warms_the_dashboard_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warm_up: bool
) -> None:
    started: list[Dashboard] = []
    monkeypatch.setattr(Dashboard, "warm_up", lambda self: started.append(self))
    settings, token = small_service(f"sqlite:///{tmp_path / 'kokuho.db'}", tmp_path)
    settings = dataclasses.replace(settings, dashboard_warm_up=warm_up)
    with TestClient(create_app(settings)) as http:
        # Checks answer either way.
        answer = http.post(
            "/api/v1/checks/number",
            headers={"Authorization": f"Bearer {token}"},
            json={"insurer_number": "01370014", "symbol": "K", "number": "1", "branch": "01",
                  "birth_date": "1960-01-01", "purpose": "care"},
        )  # fmt: skip
        assert answer.status_code == 200
    assert len(started) == (1 if warm_up else 0)


_WORKER = """
import sys
from fastapi.testclient import TestClient
from kokuho.config import Settings
from kokuho.web import create_app
from kokuho.web.dashboard import Dashboard

started = []
Dashboard.warm_up = lambda self: started.append(self)
with TestClient(create_app(Settings.from_env())):
    print("warmed" if started else "skipped", flush=True)
    sys.stdin.readline()  # a running worker until the test lets it go
"""


def _worker(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """A server process's app started (lifespan entered): the process and what it did."""
    process = subprocess.Popen([sys.executable, "-c", _WORKER], env=env, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def test_only_one_process_of_a_node_warms_the_dashboard(tmp_path: Path) -> None:
    settings, _ = small_service(f"sqlite:///{tmp_path / 'kokuho.db'}", tmp_path)
    env = {**os.environ, "KOKUHO_HOME": str(settings.home),
           "KOKUHO_DATABASE_URL": settings.database_url,
           "KOKUHO_MYNUMBER_KEY_FILE": str(settings.mynumber_key_file),
           "KOKUHO_SERVICE_KEY_FILE": str(settings.service_key_file),
           "KOKUHO_DASHBOARD_WARM_UP": "1"}  # fmt: skip
    first, did = _worker(env)
    second: subprocess.Popen[str] | None = None
    try:
        assert did == "warmed"
        second, did = _worker(env)  # the same home while the first one runs
        assert did == "skipped"
        second.communicate("\n", timeout=60)
        assert second.returncode == 0
        first.kill()  # kill -9: the kernel drops its lock, a restarted worker may take it
        first.communicate(timeout=60)
        again = claim_warm_up(settings.home)
        assert again is not None
        os.close(again)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.communicate(timeout=60)
    assert (settings.home / WARM_UP_LOCK).stat().st_mode & 0o077 == 0


def test_the_lock_is_only_taken_when_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings, _ = small_service(f"sqlite:///{tmp_path / 'kokuho.db'}", tmp_path)
    held = claim_warm_up(settings.home)  # another process's worker, as far as flock goes
    assert held is not None and claim_warm_up(settings.home) is None
    started: list[Dashboard] = []
    monkeypatch.setattr(Dashboard, "warm_up", lambda self: started.append(self))
    with TestClient(create_app(settings)):
        pass
    assert started == []  # the lock is held elsewhere: no warm-up
    os.close(held)
    with TestClient(create_app(settings)):
        pass
    assert len(started) == 1
    off = dataclasses.replace(settings, dashboard_warm_up=False)
    with TestClient(create_app(off)):
        assert claim_warm_up(settings.home) is not None  # a node without warm-up holds none
