"""The check benchmarks' baseline (benchmarks/constant_app.py) takes the service's route path.

Every ratio of issue 15's check goals is the service's rate over this baseline's. A baseline
that pays costs the service does not pay (a thread pool hand-off, FastAPI's generic body and
dependency machinery, as it did until 2026-12-07) understates the ceiling and overstates every
ratio, so these tests hold the two apps to the same route class, the same body models, the
same answer encoder and the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from benchmarks import constant_app
from kokuho.verify._rest import CardCheck, NumberCheck
from tests.conftest import small_service

CHECKS = ("/api/v1/checks/number", "/api/v1/checks/card")
BODY = {
    "insurer_number": "06370019", "symbol": "12345", "number": "1234567", "branch": "01",
    "birth_date": "1961-07-14", "purpose": "care",
}  # fmt: skip


def _route(app: FastAPI, path: str) -> APIRoute:
    (route,) = [r for r in app.routes if isinstance(r, APIRoute) and r.path == path]
    return route


def test_the_baseline_routes_are_of_the_services_route_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kokuho.web import create_app

    # create_db_app reads the URL (it connects only under load): for this test alone, so that
    # no later test of the session finds a database URL it did not set.
    if "KOKUHO_DATABASE_URL" not in os.environ:
        monkeypatch.setenv("KOKUHO_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")

    settings, _ = small_service(f"sqlite:///{tmp_path / 'k.db'}", tmp_path)
    service = create_app(settings)
    for factory in (constant_app.create_app, constant_app.create_db_app):
        baseline = factory()
        for path in CHECKS:
            ours, theirs = _route(baseline, path), _route(service, path)
            # Both made by _rest_fast.fast_route: the same handler code for the common case.
            assert (
                type(ours).__qualname__
                == type(theirs).__qualname__
                == ("fast_route.<locals>.FastRoute")
            )
            assert type(ours).__module__ == type(theirs).__module__
            assert type(ours).__bases__ == type(theirs).__bases__
            assert ours.methods == theirs.methods == {"POST"}


def test_the_baseline_answers_on_the_event_loop_with_the_services_encoder() -> None:
    threads: list[threading.Thread] = []
    loops: list[asyncio.AbstractEventLoop] = []

    async def before() -> None:
        threads.append(threading.current_thread())
        loops.append(asyncio.get_running_loop())

    app = constant_app._constant_app("test", before)
    with TestClient(app) as http:
        for path, body in zip(CHECKS, (BODY, _card_body()), strict=True):
            answer = http.post(path, json=body, headers={"Authorization": "Bearer x"})
            assert answer.status_code == 200, answer.text
            assert answer.json() == constant_app.ANSWER
            # The service's encoder: compact separators, Japanese kept as UTF-8.
            assert (
                answer.content
                == json.dumps(
                    constant_app.ANSWER, ensure_ascii=False, separators=(",", ":")
                ).encode()
            )
    # Each answer's work ran in a coroutine on the loop, never in the thread pool's workers.
    assert len(threads) == 2 and len(set(threads)) == 1
    assert all(loop is loops[0] for loop in loops)


def test_the_baseline_validates_the_very_body_models() -> None:
    with TestClient(constant_app.create_app()) as http:
        for path, model, body in zip(CHECKS, (NumberCheck, CardCheck), (BODY, _card_body()),
                                     strict=True):  # fmt: skip
            # What the service's model refuses, the baseline refuses: an unknown field, a
            # required one missing (both models forbid extra fields).
            assert model.model_config.get("extra") == "forbid"
            for wrong in ({**body, "unknown": 1}, {"purpose": "care"}):
                refused = http.post(path, json=wrong, headers={"Authorization": "Bearer x"})
                assert refused.status_code == 422, (path, wrong)
        # No credential: handed to FastAPI's own handler, as the service's route does.
        answered = http.post(CHECKS[0], json=BODY)
        assert answered.status_code == 200


def _card_body() -> dict[str, Any]:
    return {"certificate_pem": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
            "purpose": "care", "date_of_care": "2026-01-05"}  # fmt: skip


def test_the_baseline_skips_fastapis_telemetry_check_as_the_service_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """create_app's default (KOKUHO_TELEMETRY off, tests/test_telemetry_setting.py): a baseline
    that paid the look-up of the OpenTelemetry providers would understate the ceiling."""
    from tests.test_telemetry_setting import count_provider_look_ups

    calls = count_provider_look_ups(monkeypatch)
    with TestClient(constant_app.create_app()) as http:
        calls.clear()
        answer = http.post("/api/v1/checks/number", json=BODY,
                           headers={"Authorization": "Bearer t"})  # fmt: skip
        assert answer.status_code == 200, answer.text
    assert calls == []


def test_the_telemetry_benchmark_runs_and_saves_its_figures() -> None:
    from benchmarks import bench_telemetry

    # In a thread of its own: the benchmark runs its own event loop (asyncio.run), and a test
    # before this one may have left one running in this thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        arguments = ["--requests", "40", "--rounds", "2", "--concurrency", "4"]
        pool.submit(bench_telemetry.main, arguments).result()
    saved = json.loads(
        (Path(bench_telemetry.__file__).parent / "out" / "telemetry.json").read_text()
    )
    assert saved["requests"] == 40 and len(saved["cpu_us_per_request"]["on"]) == 2
    assert saved["enabled_check_us"]["off"] < saved["enabled_check_us"]["on"]
