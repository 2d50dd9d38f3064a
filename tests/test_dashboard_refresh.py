"""再集計 by one user must not keep the others' pages on the progress of a computation: figures
finished within the last minute are kept (REFRESH_MIN_AGE), older ones are dropped and
computed again. A user pressing it twice a second kept every page of every user on
「集計中です」. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kokuho.web import create_app
from kokuho.web.dashboard import _figures_register as fr
from kokuho.web.dashboard import _routes
from tests.dashsite import MUNICIPAL, PREFECTURE, build_site, form_token, sign_in
from tests.feedfiles import KOKUHO

LIST = f"/municipalities/{KOKUHO}/lists/overlaps"
COUNTS = "/eligibility"


@pytest.fixture
def clients(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two users' browsers on one server: a municipality's staff and the prefecture's."""
    built = build_site(database_url, tmp_path)
    app = create_app(built.settings)
    with TestClient(app) as one, TestClient(app) as other:
        assert sign_in(one, MUNICIPAL).status_code == 303
        assert sign_in(other, PREFECTURE).status_code == 303
        yield one, other


def _settled(client: TestClient) -> None:
    deadline = time.monotonic() + 60
    while "集計中" in client.get(COUNTS).text and time.monotonic() < deadline:
        time.sleep(0.1)


def _held(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """From now on the 資格重複 figures wait for the event (at most 30 s)."""
    release = threading.Event()
    original = fr.overlaps

    def slow(engine: sa.Engine, report: Any) -> Any:
        release.wait(30)
        return original(engine, report)

    monkeypatch.setattr(fr, "overlaps", slow)
    return release


def test_a_refresh_right_after_the_figures_keeps_them_for_everyone(
    clients: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, other = clients
    _settled(other)
    release = _held(monkeypatch)
    try:
        for _ in range(5):  # again and again
            answer = one.post("/refresh", data={"csrf_token": form_token(one), "next": LIST})
            assert answer.status_code == 200
        page = other.get(COUNTS)
        assert page.status_code == 200 and "集計中" not in page.text, page.text[:300]
    finally:
        release.set()


def test_a_refresh_recomputes_figures_older_than_the_minimum_age(
    clients: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, other = clients
    _settled(other)
    monkeypatch.setattr(_routes, "REFRESH_MIN_AGE", 0.0)  # every finished bundle is "old"
    release = _held(monkeypatch)
    try:
        one.post("/refresh", data={"csrf_token": form_token(one), "next": COUNTS})
        assert "集計中" in other.get(COUNTS).text  # computed again, held back meanwhile
    finally:
        release.set()
    _settled(other)
    assert "集計中" not in other.get(COUNTS).text
