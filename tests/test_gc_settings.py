"""KOKUHO_GC_THRESHOLDS and KOKUHO_GC_FREEZE: each server process, once started, runs its
collector with the configured thresholds and with what it holds frozen out of the
collections; the interpreter's own settings come back when the app stops."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kokuho.config import DEFAULT_GC_THRESHOLDS, SettingError, Settings
from kokuho.web import create_app
from tests.conftest import small_service


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, DEFAULT_GC_THRESHOLDS),
        ("", DEFAULT_GC_THRESHOLDS),
        ("python", None),
        (" Python ", None),
        ("20000,15,12", (20_000, 15, 12)),
        (" 700, 10 ,10 ", (700, 10, 10)),
    ],
)
def test_the_thresholds_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, expected: tuple[int, int, int] | None
) -> None:
    if raw is None:
        monkeypatch.delenv("KOKUHO_GC_THRESHOLDS", raising=False)
    else:
        monkeypatch.setenv("KOKUHO_GC_THRESHOLDS", raw)
    assert Settings.from_env().gc_thresholds == expected


@pytest.mark.parametrize(
    "raw", ["50000", "50000,20", "1,2,3,4", "0,10,10", "-1,10,10", "50000,20,x", "１,2,3",
            "050000,20,20", "100000000,10,10", "700,10001,10", "default"],
)  # fmt: skip
def test_invalid_thresholds_stop_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("KOKUHO_GC_THRESHOLDS", raw)
    with pytest.raises(SettingError, match="KOKUHO_GC_THRESHOLDS"):
        Settings.from_env()
    with pytest.raises(SettingError, match="KOKUHO_GC_THRESHOLDS"):
        create_app()  # the uvicorn factory: the worker does not start


@pytest.mark.parametrize(("raw", "expected"), [(None, True), ("1", True), ("0", False)])
def test_the_freeze_switch_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, expected: bool
) -> None:
    if raw is None:
        monkeypatch.delenv("KOKUHO_GC_FREEZE", raising=False)
    else:
        monkeypatch.setenv("KOKUHO_GC_FREEZE", raw)
    assert Settings.from_env().gc_freeze is expected


def test_an_invalid_freeze_switch_stops_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOKUHO_GC_FREEZE", "yes")
    with pytest.raises(ValueError, match="KOKUHO_GC_FREEZE"):
        create_app()


def _check(http: TestClient, token: str) -> None:
    answer = http.post(
        "/api/v1/checks/number",
        headers={"Authorization": f"Bearer {token}"},
        json={"insurer_number": "06370019", "symbol": "K", "number": "1"},
    )
    assert answer.status_code < 500


def test_a_started_app_runs_with_the_settings_and_puts_them_back(tmp_path: Path) -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    settings, token = small_service(f"sqlite:///{tmp_path / 'kokuho.db'}", tmp_path)
    settings = dataclasses.replace(settings, gc_thresholds=(12_345, 17, 19), gc_freeze=True)
    app = create_app(settings)
    assert gc.get_threshold() == before  # nothing changes before the start
    with TestClient(app) as http:
        assert gc.get_threshold() == (12_345, 17, 19)
        assert gc.get_freeze_count() > 10_000  # modules, metadata, routes at least
        _check(http, token)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_python_thresholds_and_no_freeze_leave_the_collector_alone(tmp_path: Path) -> None:
    before = gc.get_threshold()
    settings, token = small_service(f"sqlite:///{tmp_path / 'kokuho.db'}", tmp_path)
    settings = dataclasses.replace(settings, gc_thresholds=None, gc_freeze=False)
    with TestClient(create_app(settings)) as http:
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0
        _check(http, token)


def test_the_default_is_applied_by_an_app_built_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings, _ = small_service(f"sqlite:///{tmp_path / 'kokuho.db'}", tmp_path)
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    monkeypatch.setenv("KOKUHO_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("KOKUHO_DASHBOARD_WARM_UP", "0")
    for name in ("KOKUHO_GC_THRESHOLDS", "KOKUHO_GC_FREEZE"):
        monkeypatch.delenv(name, raising=False)
    with TestClient(create_app()):
        assert gc.get_threshold() == DEFAULT_GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
