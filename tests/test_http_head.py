"""HEAD on every GET route of the app (dashboard pages, the two API faces, the OpenAPI pages,
static files) answers as GET does, the same status and headers under the same access rules,
and sends no body. Link checkers, browsers and load balancers' health checks send HEAD.

The body is watched at the ASGI level: the test client drops a HEAD's body itself, a server
such as uvicorn would too, and neither says whether the app sent one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from kokuho.web import create_app
from tests.apiroutes import fill, routes
from tests.dashsite import MUNICIPAL, audit_rows, build_site, sign_in
from tests.feedfiles import KOKUHO

#: Every path the app answers GET on (parameters as ``tests.apiroutes.fill`` fills them), a
#: file of each mount among them; ``test_the_list_is_every_get_route`` keeps it whole.
GET_PATHS = [
    "/",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/static/dashboard.css",
    "/favicon.ico",
    "/login",
    "/overview",
    "/compare",
    "/municipalities",
    "/municipalities/{insurer}",
    "/municipalities/{insurer}/lists/{kind}",
    "/grants",
    "/grants/what-if",
    "/premiums",
    "/eligibility",
    "/provisions",
    "/boundary",
    "/boundary/cases/{case_id}",
    "/boundary/cases/{case_id}/notices/{kind}",
    "/audit",
    "/jobs/{job_id}",
    "/api/v1/health",
    "/api/v1/credential",
    "/api/v1/checks/bulk/{reception_number}",
    "/api/v1/patients/{patient}/{category:consent}",
    "/api/v1/insurer/members/{insurer}/{symbol}/{number}/{branch}",
    "/fhir/metadata",
    "/fhir/Coverage/{handle}",
    "/fhir/Patient/{handle}",
]
#: Paths that take GET on no route: HEAD answers as GET there too (404 or 405).
OTHER_PATHS = ["/nope", "/api/v1/nope", "/fhir/Nope", "/static/nope.css", "/audit/verify"]
#: Headers that may differ between two requests: the time, and fresh tokens and sizes of a
#: page that draws them (a sign-in form's CSRF cookie, progress that moved on).
VARYING = {"date", "set-cookie", "content-length"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """The app and the clinic's credential token (for the API faces)."""
    # HEAD is the app's own matter, not the database's: SQLite only.
    home = tmp_path_factory.mktemp("head")
    built = build_site(f"sqlite:///{home / 'kokuho.db'}", home)
    with TestClient(create_app(built.settings)) as http:
        yield http, built.token


@pytest.fixture
def client(site: tuple[TestClient, str]) -> TestClient:
    return site[0]


Raw = tuple[int, dict[str, str], list[dict[str, Any]]]


def _asgi(site: tuple[TestClient, str], method: str, path: str, *, signed: bool) -> Raw:
    """The app's answer as ASGI messages: status, headers, and every body message; ``signed``
    with the client's dashboard session and the clinic's credential."""
    client, token = site
    headers = [(b"host", b"testserver")]
    if signed:
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        headers += [(b"cookie", cookie.encode()), (b"authorization", f"Bearer {token}".encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)
    [start] = [m for m in sent if m["type"] == "http.response.start"]
    found = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], found, [m for m in sent if m["type"] == "http.response.body"]


def _signed_in(client: TestClient, signed: bool) -> None:
    client.cookies.clear()
    if signed:
        assert sign_in(client, MUNICIPAL).status_code == 303


def test_the_list_is_every_get_route(client: TestClient) -> None:
    found = set()
    for route in routes(client.app):  # type: ignore[arg-type]
        if isinstance(route, Mount):
            found.add(f"{route.path}/dashboard.css")
        elif "GET" in (getattr(route, "methods", None) or ()):
            found.add(route.path)
    assert found == set(GET_PATHS)


@pytest.mark.parametrize("signed", [False, True], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize("template", GET_PATHS + OTHER_PATHS)
def test_head_answers_as_get_without_a_body(
    site: tuple[TestClient, str], template: str, signed: bool
) -> None:
    _signed_in(site[0], signed)
    path = fill(template)
    status, headers, _ = _asgi(site, "GET", path, signed=signed)
    head_status, head_headers, bodies = _asgi(site, "HEAD", path, signed=signed)
    assert head_status != 405 or status == 405, headers
    assert head_status == status, (path, head_headers)
    assert {k: v for k, v in head_headers.items() if k not in VARYING} == {
        k: v for k, v in headers.items() if k not in VARYING
    }
    # The GET's Content-Length, if it had one, with nothing after it.
    assert ("content-length" in head_headers) == ("content-length" in headers)
    assert b"".join(m.get("body", b"") for m in bodies) == b""


def test_a_head_through_the_client_is_a_get_without_a_body(client: TestClient) -> None:
    _signed_in(client, True)
    page = client.get("/audit")
    head = client.head("/audit")
    assert head.status_code == page.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == page.headers["content-type"]
    client.cookies.clear()
    assert client.head("/audit", follow_redirects=False).headers["location"] == (
        "/login?next=/audit"
    )
    health = client.head("/api/v1/health")
    assert health.status_code == 200 and health.headers["content-type"] == "application/json"


def test_the_openapi_document_lists_get_alone(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    methods = {method for item in spec["paths"].values() for method in item}
    assert "get" in methods and "head" not in methods


def test_a_head_of_a_person_list_is_audited_as_its_view(client: TestClient) -> None:
    """The GET runs, and its Content-Length tells something of the list: recorded alike."""
    _signed_in(client, True)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    page = f"/municipalities/{KOKUHO}/lists/overlaps"
    deadline = time.monotonic() + 60
    while "集計中" in client.get(page).text:  # the list's figures first, not its progress
        assert time.monotonic() < deadline
        time.sleep(0.05)
    before = len(audit_rows(engine, outcome="shown"))
    assert client.head(page).status_code == 200
    seen = audit_rows(engine, outcome="shown")[before:]
    assert seen and {row.actor for row in seen} == {f"dashboard:{MUNICIPAL}"}
