"""The session cookie lasts as long as the session it carries (docs/dashboard.md, Security):
30 minutes from the last request, never past the 8 hours from sign-in; a cookie of a session
that has ended (signed out elsewhere, idle, disabled) is removed from the browser. On SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kokuho.web.dashboard import tables as t
from kokuho.web.dashboard._accounts import SESSION_IDLE, SESSION_LIFETIME
from tests.dashsite import MUNICIPAL, sign_in
from tests.feedfiles import KOKUHO
from tests.test_dashboard_inputs import site  # noqa: F401  (the fixture)

IDLE = int(SESSION_IDLE.total_seconds())


def session_cookie(answer: Any) -> tuple[str, int] | None:
    """The session cookie an answer sets: (value, Max-Age), or None when it sets none."""
    for line in answer.headers.get_list("set-cookie"):
        if line.startswith("kokuho_session="):
            value = line.split(";", 1)[0].split("=", 1)[1].strip('"')
            age = re.search(r"Max-Age=(-?\d+)", line)
            assert age is not None, line
            return value, int(age.group(1))
    return None


def _sessions(engine: sa.Engine, **values: dt.datetime) -> None:
    with engine.begin() as connection:
        connection.execute(t.dashboard_sessions.update().values(**values))


def test_the_cookie_ends_when_the_session_would(
    site: tuple[TestClient, sa.Engine],  # noqa: F811  (the fixture imported above)
) -> None:
    client, engine = site
    signed = sign_in(client, MUNICIPAL)
    assert signed.status_code == 303
    token, age = session_cookie(signed) or ("", 0)
    # Unused, the session ends after the idle time: the cookie lasted the 8 hours before.
    assert min(IDLE, int(SESSION_LIFETIME.total_seconds())) - 5 <= age <= IDLE, signed.headers
    now = dt.datetime.now(dt.UTC)

    # Each request renews both: the server's idle clock and the cookie's Max-Age.
    _sessions(engine, last_seen_at=now - dt.timedelta(minutes=20))
    answer = client.get("/overview", follow_redirects=False)
    assert answer.status_code == 200
    assert session_cookie(answer) is not None
    renewed, age = session_cookie(answer) or ("", 0)
    assert renewed == token and IDLE - 60 <= age <= IDLE, age

    # Near the end of its 8 hours the session ends before its idle time: so does the cookie.
    _sessions(engine, expires_at=now + dt.timedelta(minutes=5))
    for path in ("/overview", f"/municipalities/{KOKUHO}", "/jobs/" + "0" * 20):
        answer = client.get(path, follow_redirects=False)
        _, age = session_cookie(answer) or ("", 0)
        assert 5 * 60 - 60 <= age <= 5 * 60, (path, answer.headers)
    assert client.get("/overview").status_code == 200  # the cookie still opens pages


@pytest.mark.parametrize("path", ["/overview", "/grants/what-if?insurer=370015&lever=x&value=0"])
def test_a_cookie_of_an_ended_session_is_removed(
    site: tuple[TestClient, sa.Engine],  # noqa: F811  (the fixture imported above)
    path: str,
) -> None:
    """Signed out in another browser, idle too long or disabled: the next answer (the sign-in
    page's redirect, a JSON 401) removes the dead cookie instead of keeping it for hours."""
    client, engine = site
    assert sign_in(client, MUNICIPAL).status_code == 303
    _sessions(engine, last_seen_at=dt.datetime.now(dt.UTC) - SESSION_IDLE - SESSION_IDLE)
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code in (303, 401), answer.text[:200]
    assert session_cookie(answer) == ("", 0), answer.headers
    assert "kokuho_session" not in client.cookies
