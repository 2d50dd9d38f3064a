"""Every dashboard parameter is checked against its allowed values: a bad one is a 400 with a
reason, never a 500 and never stored in the audit log; sign-in refusals read and cost the
same; the favicon is served. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kokuho.store import connect
from kokuho.web import create_app
from kokuho.web.dashboard import authenticate
from kokuho.web.dashboard import tables as t
from kokuho.web.dashboard._accounts import MAX_FAILURES
from kokuho.web.dashboard._security import MAX_FORM
from tests.dashsite import (
    MUNICIPAL,
    PASSWORD,
    PREFECTURE,
    audit_rows,
    build_site,
    form_token,
    sign_in,
)
from tests.feedfiles import KOKUHO

LIST = f"/municipalities/{KOKUHO}/lists/overlaps"


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, sa.Engine]]:
    built = build_site(database_url, tmp_path)
    engine = connect(database_url)
    with TestClient(create_app(built.settings)) as client:
        yield client, engine
    engine.dispose()


def _signed_in(client: TestClient, username: str = MUNICIPAL) -> TestClient:
    client.cookies.clear()
    assert sign_in(client, username).status_code == 303
    return client


def _download(client: TestClient, fmt: str) -> Any:
    deadline = time.monotonic() + 60
    while True:  # the list's figures may still be computing: the download then waits
        answer = client.get(LIST, params={"download": "list-overlaps", "format": fmt})
        if answer.status_code != 200 or "集計中" not in answer.text:
            return answer
        if time.monotonic() > deadline:
            return answer


BAD_FORMATS = ["x" * 30, "csv\x00", "<script>alert(1)</script>' OR 1=1; --" + "x" * 4970, "CSV"]


@pytest.mark.parametrize("fmt", BAD_FORMATS, ids=["long", "nul", "html-sql-5000", "upper"])
def test_a_bad_download_format_is_a_400_and_nothing_is_audited(
    site: tuple[TestClient, sa.Engine], fmt: str
) -> None:
    client, engine = site
    _signed_in(client)
    before = len(audit_rows(engine))
    answer = _download(client, fmt)
    assert answer.status_code == 400, answer.text[:300]
    assert re.search(r"role=\"alert\">format: ", answer.text)
    assert len(audit_rows(engine)) == before
    good = _download(client, "csv")
    assert good.status_code == 200 and good.headers["content-type"].startswith("text/csv")
    outcomes = [row.outcome for row in audit_rows(engine, actor=f"dashboard:{MUNICIPAL}")]
    assert outcomes == ["downloaded:csv"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("before=9223372036854775808", 400),
        ("before=99999999999999999999999", 400),
        ("before=0", 400),
        ("before=-1", 400),
        ("before=%EF%BC%91", 400),  # a full-width digit: isdigit() says yes
        ("before=9223372036854775807", 200),
        ("before=2", 200),
    ],
)
def test_the_audit_cursor_is_bounded(
    site: tuple[TestClient, sa.Engine], query: str, status: int
) -> None:
    client, _ = site
    _signed_in(client, PREFECTURE)
    answer = client.get(f"/audit?{query}")
    assert answer.status_code == status, answer.text[:300]
    if status == 400:
        assert "before" in answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/compare?fy=99999999999999999999",
        "/compare?fy=-2021",
        "/compare?fy=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%91",
        "/compare?fy=2021%00",
        "/eligibility?fy=1800",
        f"/municipalities/{KOKUHO}?fy=abcd",
        "/municipalities/37%0015",
        "/municipalities/" + "9" * 5000,
        f"/municipalities/{KOKUHO}/lists/overlaps?download=%00",
        "/jobs/" + quote("ｊｏｂ"),
        f"/grants/what-if?insurer={KOKUHO}&lever=checkup_rate&value=nan",
        f"/grants/what-if?insurer={KOKUHO}&lever=checkup_rate&value=1e999",
        "/grants/what-if?insurer=%00&lever=checkup_rate&value=0.5",
        f"/grants/what-if?insurer={KOKUHO}&lever=%3Cb%3E&value=0.5",
        "/overview?anything=" + "%00",
        "/boundary?on=2023-05-12%00",
        "/boundary?on=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%93-05-12",
        "/boundary?on=" + "9" * 40,
        "/boundary?on=2999-01-01",
        "/boundary/cases/1?on=2023-02-30",
    ],
)
def test_bad_parameters_are_400s_naming_the_parameter(
    site: tuple[TestClient, sa.Engine], path: str
) -> None:
    client, _ = site
    _signed_in(client)
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 400, answer.text[:300]
    assert "Content-Security-Policy" in answer.headers


@pytest.mark.parametrize("token", ["ｔｏｋｅｎ", "tok\x00en", "é" * 40, "a" * 5000])
@pytest.mark.parametrize("route", ["/login", "/logout", "/refresh", "/audit/verify"])
def test_malformed_csrf_tokens_are_400s_on_every_form(
    site: tuple[TestClient, sa.Engine], route: str, token: str
) -> None:
    client, _ = site
    if route == "/login":
        client.cookies.clear()
        client.get("/login")
    else:
        _signed_in(client)
    fields = {"csrf_token": token, "username": MUNICIPAL, "password": PASSWORD, "next": "/"}
    answer = client.post(route, data=fields, follow_redirects=False)
    assert answer.status_code == 400, answer.text[:300]
    assert "kokuho_session=" not in answer.headers.get("set-cookie", "")
    if route != "/login":  # the session is still there: the form was refused, not obeyed
        assert client.get("/overview", follow_redirects=False).status_code == 200


def test_a_right_token_still_works_on_every_form(site: tuple[TestClient, sa.Engine]) -> None:
    client, _ = site
    _signed_in(client, PREFECTURE)
    for route in ["/refresh", "/audit/verify", "/logout"]:
        answer = client.post(route, data={"csrf_token": form_token(client)}, follow_redirects=False)
        assert answer.status_code == 303, (route, answer.text[:300])
    assert client.get("/overview", follow_redirects=False).status_code == 303  # signed out


def test_a_stale_tab_does_not_seem_to_sign_out(site: tuple[TestClient, sa.Engine]) -> None:
    """A sign-out form of an earlier session (a tab left open across a new sign-in) is refused
    with a page that says it did not sign out, not a redirect to the sign-in page that reads
    as signed out while the session goes on (a clerk leaving a shared terminal)."""
    client, _ = site
    _signed_in(client)
    stale = form_token(client)
    _signed_in(client)  # a new session, the old tab still open
    answer = client.post("/logout", data={"csrf_token": stale}, follow_redirects=False)
    assert answer.status_code == 400, answer.status_code
    assert "フォームの有効期限が切れました" in answer.text
    assert "サインアウトはしていません" in answer.text
    # The session's cookie is kept: renewed at most (its Max-Age runs on), never removed.
    kept = [c for c in answer.headers.get_list("set-cookie") if c.startswith("kokuho_session=")]
    assert all(f"={client.cookies['kokuho_session']};" in c for c in kept), kept
    assert all("Max-Age=0" not in c for c in kept), kept
    assert client.get("/overview", follow_redirects=False).status_code == 200
    # The refusal's own sign-out form carries the session's token: it signs out.
    answer = client.post("/logout", data={"csrf_token": form_token(client)})
    assert client.get("/overview", follow_redirects=False).status_code == 303


def test_a_signed_in_user_is_not_shown_the_sign_in_form(
    site: tuple[TestClient, sa.Engine],
) -> None:
    """A second tab opening /login once signed in goes on to where ``next`` points (checked as
    the sign-in checks it) or to the home page: the form it showed carried a token the sign-in
    had already retired, so its submission read 「フォームの有効期限が切れました」."""
    client, _ = site
    _signed_in(client)
    session = client.cookies["kokuho_session"]
    for asked, goes in [
        ("/login", "/overview"),
        (f"/login?next={quote('/compare?fy=2021')}", "/compare?fy=2021"),
        (f"/login?next={quote(LIST)}", LIST),
        ("/login?next=//evil.example/x", "/overview"),  # never an open redirect
        ("/login?next=https://evil.example/", "/overview"),
        (f"/login?next={quote('/login?next=/login')}", "/overview"),  # no round of redirects
    ]:
        answer = client.get(asked, follow_redirects=False)
        assert answer.status_code == 303, (asked, answer.text[:300])
        assert answer.headers["location"] == goes, asked
        # No new sign-in token, and the session goes on.
        assert "kokuho_csrf" not in answer.headers.get("set-cookie", "")
        assert client.cookies["kokuho_session"] == session
    assert client.get("/overview", follow_redirects=False).status_code == 200
    # Signed out, or with the cookie of a session that has ended: the form.
    client.post("/logout", data={"csrf_token": form_token(client)}, follow_redirects=False)
    client.cookies.set("kokuho_session", session)
    answer = client.get("/login?next=/compare", follow_redirects=False)
    assert answer.status_code == 200 and 'name="csrf_token"' in answer.text
    client.cookies.clear()
    answer = client.get("/login", follow_redirects=False)
    assert answer.status_code == 200 and 'name="csrf_token"' in answer.text


def _post_chunked(client: TestClient, route: str, chunks: int) -> tuple[int, int]:
    """POSTs ``chunks`` MiB to the app as a chunked body (no Content-Length), straight through
    ASGI (the test client would read the whole body first); the status and the MiB read."""
    read = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read >= chunks:
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": b"a" * (1 << 20), "more_body": read < chunks}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": route, "raw_path": route.encode(),
             "root_path": "", "query_string": b"", "client": ("127.0.0.1", 1),
             "server": ("testserver", 80),
             "headers": [(b"host", b"testserver"),
                         (b"content-type", b"application/x-www-form-urlencoded")]}  # fmt: skip
    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)
    return status, read


@pytest.mark.parametrize("route", ["/login", "/logout", "/refresh", "/audit/verify"])
def test_a_huge_form_is_not_read_whole(site: tuple[TestClient, sa.Engine], route: str) -> None:
    """A form body is small: anyone (signed in or not) posting hundreds of megabytes must not
    make the server hold them. It stops reading past the limit and refuses with a 400 page."""
    client, _ = site
    status, read = _post_chunked(client, route, 64)
    assert status == 400
    assert read <= 2, f"{read} MiB read of a form limited to {MAX_FORM} bytes"
    # A Content-Length over the limit is refused before the body is read.
    answer = client.post(
        route,
        content=b"csrf_token=" + b"a" * MAX_FORM,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert answer.status_code == 400, answer.text[:300]


def test_over_https_only_host_bound_cookies_count(database_url: str, tmp_path: Path) -> None:
    """Over https the cookies are __Host- ones, which a sibling subdomain cannot set. A plain
    kokuho_csrf / kokuho_session cookie (cookie tossing from such a host) must not stand in
    for them: else an attacker picks the sign-in form's token (login CSRF) or the session."""
    built = build_site(database_url, tmp_path)
    with TestClient(create_app(built.settings), base_url="https://testserver") as client:
        client.cookies.set("kokuho_csrf", "tossed-by-a-sibling-host-0123456789")
        fields = {"csrf_token": "tossed-by-a-sibling-host-0123456789", "username": MUNICIPAL,
                  "password": PASSWORD}  # fmt: skip
        answer = client.post("/login", data=fields, follow_redirects=False)
        assert answer.status_code == 400, answer.status_code
        assert "kokuho_session=" not in answer.headers.get("set-cookie", "")
        # A session of the attacker's own, tossed as a plain cookie, is not a session here.
        with TestClient(create_app(built.settings)) as plain:
            assert sign_in(plain, PREFECTURE).status_code == 303
            session = plain.cookies.get("kokuho_session")
        client.cookies.clear()
        client.cookies.set("kokuho_session", session)
        assert client.get("/overview", follow_redirects=False).status_code == 303
        # The site's own __Host- cookies still work.
        client.cookies.clear()
        assert sign_in(client, MUNICIPAL).status_code == 303
        assert client.get("/overview", follow_redirects=False).status_code == 200


def test_an_unknown_job_is_a_404_in_japanese(site: tuple[TestClient, sa.Engine]) -> None:
    """The progress endpoint answers JSON (the page's script polls it); its refusals read in
    Japanese like every other answer of the dashboard."""
    client, _ = site
    _signed_in(client)
    answer = client.get("/jobs/" + "0" * 20)
    assert answer.status_code == 404
    assert answer.json() == {
        "error": "job: その集計はありません (終わってから15分で消えます)",
        "parameter": "job",
    }


def test_a_bad_sign_in_field_is_named(site: tuple[TestClient, sa.Engine]) -> None:
    """A NUL in the user name is a 400 naming the field, not 「フォームの有効期限が切れました」
    (the form's token was right); nothing is checked against the accounts."""
    client, _ = site
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    fields = {"csrf_token": token.group(1), "username": MUNICIPAL + "\x00", "password": PASSWORD}
    answer = client.post("/login", data=fields, follow_redirects=False)
    assert answer.status_code == 400
    assert "username: 制御文字" in answer.text and "有効期限" not in answer.text
    assert "kokuho_session=" not in answer.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "path",
    [
        "/boundary?on=%00&on=",  # the NUL of the first value passed unchecked
        "/boundary?on=abc&on=2023-05-12",
        "/boundary?on=2023-05-12&on=2023-05-13",  # which day did the user mean?
        "/audit?before=%00&before=5",
        "/audit?before=x&before=5",
        "/overview?fy=2021&fy=2022",
    ],
)
def test_a_parameter_given_twice_is_a_400_naming_it(
    site: tuple[TestClient, sa.Engine], path: str
) -> None:
    """Of a name given twice a page read one value (the query's last, a form's first) and the
    other passed every check unseen; it is refused, as the CLI refuses an option given twice."""
    client, _ = site
    _signed_in(client)
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 400, answer.text[:300]
    name = path.split("?")[1].split("=")[0]
    reason = "制御文字" if "%00" in path else "1回だけ指定してください"
    assert f"{name}: {reason}" in answer.text


def test_a_sign_in_field_given_twice_is_named(site: tuple[TestClient, sa.Engine]) -> None:
    client, _ = site
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    body = f"csrf_token={token.group(1)}&username=x&username={MUNICIPAL}&password={PASSWORD}"
    answer = client.post(
        "/login",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert "username: 1回だけ指定してください" in answer.text
    assert "kokuho_session=" not in answer.headers.get("set-cookie", "")


def test_the_favicon_is_served(site: tuple[TestClient, sa.Engine]) -> None:
    client, _ = site
    answer = client.get("/favicon.ico")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert answer.content.startswith(b"<svg") and len(answer.content) < 2048


# -- sign-in: the same message and the same cost for every refusal -------------------------


def _refusal_text(answer: Any) -> str:
    found = re.search(r'role="alert"[^>]*>(.*?)<', answer.text, re.S)
    return found.group(1).strip() if found else answer.text


def test_locked_unknown_and_wrong_password_answer_the_same(
    site: tuple[TestClient, sa.Engine],
) -> None:
    client, engine = site
    client.cookies.clear()
    for _ in range(MAX_FAILURES):
        sign_in(client, PREFECTURE, "wrong password")
    locked = sign_in(client, PREFECTURE, PASSWORD)  # locked: even the right one is refused
    unknown = sign_in(client, "nobody-here", "wrong password")
    wrong = sign_in(client, MUNICIPAL, "wrong password")
    assert locked.status_code == unknown.status_code == wrong.status_code == 401
    assert _refusal_text(locked) == _refusal_text(unknown) == _refusal_text(wrong)
    with engine.connect() as connection:
        until = connection.scalar(
            sa.select(t.dashboard_users.c.locked_until).where(
                t.dashboard_users.c.username == PREFECTURE
            )
        )
    assert until is not None


def _median_seconds(engine: sa.Engine, username: str, password: str) -> float:
    """The median CPU seconds of this thread for a refused sign-in: the work done (the scrypt
    check), which other processes on a loaded machine do not disturb as they do wall time."""
    times = []
    for _ in range(5):
        start = time.thread_time()
        assert authenticate(engine, username, password).user is None
        times.append(time.thread_time() - start)
    return statistics.median(times)


def test_locked_unknown_and_wrong_password_cost_the_same(
    site: tuple[TestClient, sa.Engine],
) -> None:
    _, engine = site
    for _ in range(MAX_FAILURES):
        authenticate(engine, PREFECTURE, "wrong password")
    assert authenticate(engine, PREFECTURE, PASSWORD).reason == "locked"
    # The wrong passwords below count too: the fifth locks that account (and costs the same).
    timings = {
        "locked": _median_seconds(engine, PREFECTURE, PASSWORD),
        "unknown": _median_seconds(engine, "nobody-here", PASSWORD),
        "wrong": _median_seconds(engine, MUNICIPAL, "wrong password"),
    }
    # The scrypt check (~50 ms) dominates each; a locked account answered in ~3 ms before.
    assert max(timings.values()) < 3 * min(timings.values()), timings


# -- every route, every parameter: no input reaches a 500 ------------------------------------

#: Every dashboard route with its path, query and form parameters. A route added without an
#: entry here fails test_every_dashboard_route_is_fuzzed.
ROUTES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/"): (),
    ("GET", "/favicon.ico"): (),
    ("GET", "/login"): ("next",),
    ("POST", "/login"): ("csrf_token", "username", "password", "next"),
    ("POST", "/logout"): ("csrf_token",),
    ("GET", "/overview"): ("download", "format"),
    ("GET", "/compare"): ("fy", "download", "format"),
    ("GET", "/municipalities"): ("to", "fy"),
    ("GET", "/municipalities/{insurer}"): ("insurer", "fy", "download", "format"),
    ("GET", "/municipalities/{insurer}/lists/{kind}"): (
        "insurer", "kind", "fy", "download", "format",
    ),
    ("GET", "/grants"): ("fy", "download", "format"),
    ("GET", "/grants/what-if"): ("fy", "insurer", "lever", "value"),
    ("GET", "/premiums"): ("fy", "insurer", "download", "format"),
    ("GET", "/eligibility"): ("fy", "download", "format"),
    ("GET", "/boundary"): ("on", "download", "format"),
    ("GET", "/boundary/cases/{case_id}"): ("case_id", "on", "download", "format"),
    ("GET", "/boundary/cases/{case_id}/notices/{kind}"): ("case_id", "kind"),
    ("GET", "/provisions"): (),
    ("GET", "/audit"): ("before", "download", "format"),
    ("POST", "/audit/verify"): ("csrf_token",),
    ("POST", "/refresh"): ("csrf_token", "next"),
    ("GET", "/jobs/{job_id}"): ("job_id",),
}  # fmt: skip

_HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "\x00",
            "csv\x00",
            "%00",
            "ｃｓｖ",
            "２０２１",
            "𠮷",
            "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
        ]
    ),
    st.builds(lambda ch, n: ch * n, st.characters(), st.sampled_from([1, 31, 5000])),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.sampled_from(["9223372036854775808", "-9223372036854775809", "1e999", "nan", "2021"]),
)


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router
            yield from _routes(route.original_router.routes)


def _dashboard_routes(client: TestClient) -> set[tuple[str, str]]:
    found = set()
    for route in _routes(client.app.routes):  # type: ignore[attr-defined]
        if route.endpoint.__module__.startswith("kokuho.web.dashboard._routes"):
            found |= {(method, route.path) for method in route.methods if method != "HEAD"}
    return found


def test_every_dashboard_route_is_fuzzed(site: tuple[TestClient, sa.Engine]) -> None:
    client, _ = site
    assert _dashboard_routes(client) == set(ROUTES)


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_no_input_reaches_a_500(site: tuple[TestClient, sa.Engine], route: tuple[str, str]) -> None:
    client, _ = site
    _signed_in(client)
    method, template = route
    names = ROUTES[route]

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.fixed_dictionaries({}, optional={name: _HOSTILE for name in names}))
    def check(values: dict[str, str]) -> None:
        path = template
        for name in re.findall(r"{(\w+)}", template):
            path = path.replace(f"{{{name}}}", quote(values.pop(name, "370015"), safe=""))
        if method == "GET":
            answer = client.get(path, params=values, follow_redirects=False)
        else:
            answer = client.post(path, data=values, follow_redirects=False)
        assert answer.status_code < 500, (path, values, answer.text[:300])

    check()


def test_a_form_with_a_latin1_digit_length_reads_as_empty() -> None:
    """'²' (Latin-1 0xB2) passes str.isdigit and int() failed on it: a 500 before the CSRF
    check. It is a length that is not a number: the form reads as empty (refused)."""
    import asyncio
    import concurrent.futures

    from starlette.requests import Request

    from kokuho.web.dashboard._security import form

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"a=1", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/login", "query_string": b"",
             "headers": [(b"content-length", b"\xb2"),
                         (b"content-type", b"application/x-www-form-urlencoded")]}  # fmt: skip
    # In a thread of its own: the test's thread may have a loop of the test client's running.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert not pool.submit(lambda: asyncio.run(form(Request(scope, receive)))).result()
