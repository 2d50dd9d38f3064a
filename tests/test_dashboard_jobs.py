"""Figures computed in the background (集計中): a failed computation's text stays on the server."""

from __future__ import annotations

import logging
import re

import pytest

from kokuho.web.dashboard._jobs import FigureCache, Job, Stopped


def _fails(job: Job) -> None:
    raise FileNotFoundError("/srv/kokuho/var/lakes/claims/37201/2021.parquet (SELECT * FROM x)")


def test_a_failed_computation_shows_a_reference_not_its_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = FigureCache()
    try:
        with caplog.at_level(logging.ERROR, logger="kokuho.web.dashboard._jobs"):
            job = cache.wait("claims-2021", _fails, timeout=10)
    finally:
        cache.close()
    assert job.state == "failed"
    assert job.error is not None
    assert "/srv" not in job.error and "SELECT" not in job.error and "parquet" not in job.error
    match = re.search(r"参照番号 ([0-9a-f]{8})", job.error)
    assert match is not None, job.error
    # The server's log holds the cause, findable by the reference the page shows.
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "2021.parquet" in str(logged[0].exc_info[1])
    assert job.as_json()["error"] == job.error


def test_a_computation_stopped_with_the_server_is_not_logged_as_failing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def stops(job: Job) -> None:
        raise Stopped(job.key)

    cache = FigureCache()
    try:
        with caplog.at_level(logging.ERROR, logger="kokuho.web.dashboard._jobs"):
            job = cache.wait("overview", stops, timeout=10)
    finally:
        cache.close()
    assert job.state == "failed" and job.error == "サーバーを停止しています。"
    assert not caplog.records
