"""KOKUHO_DASHBOARD_WARM_UP: service nodes that only answer checks do not compute the
dashboard's figures at start-up (over a national register they cost each process tens of
seconds of CPU the checks wait for); the default keeps the warm-up."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kokuho.config import Settings
from kokuho.web import create_app
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
