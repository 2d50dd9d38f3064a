"""A fault of the server on a dashboard page (the database refusing a query, here a table that
is gone) is the dashboard's own Japanese 500 page, without the fault's text: not Starlette's
English "Internal Server Error". The API faces keep their own formats. On SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import lxml.html
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kokuho.store import connect
from kokuho.web import create_app
from tests.dashsite import MUNICIPAL, build_site, sign_in


@pytest.fixture
def broken(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """Signed in; then the register's insurers table (every session's user is read with it)
    is renamed away, as a broken database would have it."""
    built = build_site(database_url, tmp_path)
    engine = connect(database_url)
    with TestClient(create_app(built.settings), raise_server_exceptions=False) as client:
        assert sign_in(client, MUNICIPAL).status_code == 303
        with engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE insurers RENAME TO insurers_gone"))
        yield client
    engine.dispose()


def assert_fault_page(answer: httpx.Response, *hidden: str) -> None:
    """The dashboard's 500 page, none of ``hidden`` (the fault's text) in it."""
    assert answer.status_code == 500, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    document = lxml.html.fromstring(answer.text)
    assert document.get("lang") == "ja"
    assert document.xpath("string(//h1)") == "サーバーで問題が起きました"
    assert not [text for text in hidden if text in answer.text]
    assert answer.headers["connection"] == "close"
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/overview", "/audit", "/premiums?fy=2021"])
def test_a_fault_is_a_japanese_500_page(broken: TestClient, path: str) -> None:
    answer = broken.get(path, follow_redirects=False)
    assert_fault_page(answer, "insurers", "Internal Server Error")
