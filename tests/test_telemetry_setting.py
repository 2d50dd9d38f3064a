"""KOKUHO_TELEMETRY: FastAPI's native OpenTelemetry is off by default, so no request asks the
OpenTelemetry API for the global providers (kokuho ships no SDK that could configure them);
``1`` turns it on for an operator who installs one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace

from kokuho.config import Settings
from kokuho.web import create_app
from tests.conftest import small_service
from tests.test_rest import BODY


def count_provider_look_ups(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """A list that grows by one each time the OpenTelemetry API's tracer provider is asked for
    (what FastAPI's telemetry does on every request while it is on)."""
    calls: list[object] = []
    real = trace.get_tracer_provider

    def counted() -> trace.TracerProvider:
        calls.append(None)
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counted)
    return calls


@pytest.mark.parametrize(("raw", "expected"), [(None, False), ("", False), ("0", False),
                                               ("1", True)])  # fmt: skip
def test_the_switch_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, expected: bool
) -> None:
    if raw is None:
        monkeypatch.delenv("KOKUHO_TELEMETRY", raising=False)
    else:
        monkeypatch.setenv("KOKUHO_TELEMETRY", raw)
    assert Settings.from_env().telemetry is expected


@pytest.mark.parametrize("raw", ["yes", "on", "true", "2", "１", "01"])
def test_an_invalid_switch_stops_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("KOKUHO_TELEMETRY", raw)
    with pytest.raises(ValueError, match="KOKUHO_TELEMETRY"):
        create_app()


@pytest.mark.parametrize(("on", "asked"), [(False, False), (True, True)])
def test_a_check_asks_the_opentelemetry_api_only_when_telemetry_is_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, on: bool, asked: bool
) -> None:
    settings, token = small_service(f"sqlite:///{tmp_path / 'kokuho.db'}", tmp_path)
    settings = dataclasses.replace(settings, telemetry=on, dashboard_warm_up=False)
    calls = count_provider_look_ups(monkeypatch)
    with TestClient(create_app(settings)) as http:
        calls.clear()  # the start-up's own look-ups do not count
        answer = http.post(
            "/api/v1/checks/number",
            headers={"Authorization": f"Bearer {token}"},
            json=BODY,
        )
        assert answer.status_code == 200, answer.text
    assert bool(calls) is asked
