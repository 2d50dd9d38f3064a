"""Downloads and what-if requests asked for while their figures are still being computed: a
few wait for them on the server; the others get the progress page (which reloads into the
download) or a 503 集計中, so that no number of such requests takes every worker thread from
the dashboard's other pages. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kokuho.store import connect
from kokuho.web import create_app
from kokuho.web.dashboard import _figures_register as fr
from kokuho.web.dashboard import _routes
from tests.dashsite import MUNICIPAL, build_site, form_token, sign_in
from tests.feedfiles import KOKUHO

LIST = f"/municipalities/{KOKUHO}/lists/overlaps"


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    built = build_site(database_url, tmp_path)
    engine = connect(database_url)
    with TestClient(create_app(built.settings)) as client:
        yield client
    engine.dispose()


def _settled(client: TestClient) -> None:
    deadline = time.monotonic() + 60
    while "集計中" in client.get(LIST).text and time.monotonic() < deadline:
        time.sleep(0.1)


def _burst(
    client: TestClient, release: threading.Event, path: str, params: dict[str, str]
) -> tuple[float, list[Any]]:
    """60 requests for ``path`` at once while ``release`` holds their figures back; then, 1.5 s
    in, how long /login takes (a worker thread's answer, here a redirect: it must be served
    meanwhile), and the 60 answers once the figures are let go (at the latest after 20 s)."""
    timer = threading.Timer(20, release.set)
    timer.start()
    try:
        with ThreadPoolExecutor(60) as pool:
            asked = [pool.submit(client.get, path, params=params) for _ in range(60)]
            time.sleep(1.5)
            started = time.monotonic()
            page = client.get("/login", follow_redirects=False)  # signed in: on to /overview
            took = time.monotonic() - started
            release.set()
            answers = [a.result() for a in asked]
    finally:
        release.set()
        timer.cancel()
    assert page.status_code == 303 and page.headers["location"] == "/overview"
    return took, answers


def test_waiting_downloads_leave_the_other_pages_served(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sign_in(client, MUNICIPAL).status_code == 303
    _settled(client)  # the start-up figures are done: 再集計 drops them
    release = threading.Event()
    original = fr.overlaps

    def slow(engine: sa.Engine, report: Any) -> Any:
        release.wait(30)
        return original(engine, report)

    monkeypatch.setattr(fr, "overlaps", slow)
    monkeypatch.setattr(_routes, "REFRESH_MIN_AGE", 0.0)  # the figures just computed too
    assert client.post("/refresh", data={"csrf_token": form_token(client)}).status_code == 200
    took, answers = _burst(client, release, LIST, {"download": "list-overlaps"})
    assert took < 5, f"/login took {took:.1f} s while downloads waited for their figures"
    assert all(a.status_code == 200 for a in answers)
    files = [a for a in answers if a.headers["content-type"].startswith("text/csv")]
    progress = [a for a in answers if "集計中" in a.text]
    assert len(files) + len(progress) == 60 and files and progress


def _grant_figures_held_back(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> threading.Event:
    """Signed in as the municipality, its figures settled, then 再集計 pressed with the year's
    grant figures held back until the returned event is set (30 s at most)."""
    from kokuho.web.dashboard import _site

    assert sign_in(client, MUNICIPAL).status_code == 303
    _settled(client)
    release = threading.Event()
    original = _site.incentives_bundle

    def slow(*args: Any) -> Any:
        release.wait(30)
        return original(*args)

    monkeypatch.setattr(_site, "incentives_bundle", slow)
    monkeypatch.setattr(_routes, "REFRESH_MIN_AGE", 0.0)  # the figures just computed too
    assert client.post("/refresh", data={"csrf_token": form_token(client)}).status_code == 200
    return release


def test_what_if_during_a_recomputation_leaves_the_other_pages_served(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The what-if slider asks on every move; while the year's grant figures are recomputed
    (再集計), a few of its requests wait for them and the rest are told 集計中 at once (503 with
    Retry-After), so a burst of them cannot hold every worker thread. It waited up to 300 s
    each, and 60 of them stalled the sign-in page."""
    release = _grant_figures_held_back(client, monkeypatch)
    ask = {"insurer": KOKUHO, "lever": "checkup_rate", "value": "0.5"}
    took, answers = _burst(client, release, "/grants/what-if", ask)
    assert took < 5, f"/login took {took:.1f} s while what-if requests waited for figures"
    told = [a for a in answers if a.status_code == 503]
    assert len(told) >= 60 - 4, [a.status_code for a in answers]
    for answer in told:
        assert answer.headers["retry-after"] == "5"
        assert "集計中" in answer.json()["error"]
    # Once computed, the slider's next move gets the figures' own answer (this site has no
    # 評価指標 loaded: the hint to load them, a 400), not 集計中.
    settled = client.get("/grants/what-if", params=ask)
    assert settled.status_code == 400 and "kokuho incentives score" in settled.json()["error"]


def test_what_if_refuses_an_out_of_range_value_without_waiting_for_figures(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slider value past its bounds (or 1e308) is a 400 naming ``value`` at once, while the
    year's grant figures are being recomputed: it was checked only once they were ready, so
    it waited for them (or was told 集計中, 503) before being refused."""
    release = _grant_figures_held_back(client, monkeypatch)
    timer = threading.Timer(15, release.set)
    timer.start()
    try:
        for value in ["1e308", "1.005", "-0.001", "2"]:
            started = time.monotonic()
            answer = client.get(
                "/grants/what-if",
                params={"insurer": KOKUHO, "lever": "checkup_rate", "value": value},
            )
            took = time.monotonic() - started
            assert took < 5, f"value={value} waited {took:.1f} s for the figures"
            assert answer.status_code == 400, (value, answer.status_code, answer.text)
            assert answer.json()["parameter"] == "value", answer.json()
            assert answer.json()["error"].startswith("value: "), answer.json()
        assert not release.is_set()  # all refused while the figures were still held back
    finally:
        release.set()
        timer.cancel()
