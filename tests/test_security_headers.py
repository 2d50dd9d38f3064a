"""Every response of the app carries the security headers, whoever answers it: a route of any
face, a redirect, a refusal, a static file, the framework's 404 and 405, or a server fault."""

from __future__ import annotations

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from kokuho.web._headers import DOCS_PATHS
from tests.apiroutes import fill, routes

REQUIRED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def assert_secured(response: httpx.Response, label: str) -> None:
    for name, value in REQUIRED.items():
        assert response.headers.get_list(name) == [value], (label, name, response.headers)
    [policy] = response.headers.get_list("content-security-policy")
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, label
    if response.request.url.path not in DOCS_PATHS:
        assert "script-src 'self';" in policy, label  # no inline or foreign script
    path = response.request.url.path
    if not path.startswith("/static/") and path != "/favicon.ico":  # public files may be cached
        assert response.headers["cache-control"] == "no-store", label


@pytest.mark.parametrize("signed", [False, True], ids=["anonymous", "credential"])
def test_every_route_of_the_app(service_client: tuple[TestClient, str], signed: bool) -> None:
    http, token = service_client
    headers = {"Authorization": f"Bearer {token}"} if signed else {}
    statuses: set[int] = set()
    tried = 0
    for route in routes(http.app):  # type: ignore[arg-type]
        if isinstance(route, Mount):
            for name in ("dashboard.css", "dashboard.js", "missing.css", "../_app.py"):
                response = http.get(f"{route.path}/{name}")
                assert_secured(response, f"{route.path}/{name}")
                statuses.add(response.status_code)
            continue
        path = fill(route.path)
        for method in sorted(route.methods - {"HEAD"}):
            response = http.request(method, path, headers=headers, follow_redirects=False)
            assert_secured(response, f"{method} {path}")
            statuses.add(response.status_code)
            tried += 1
    assert tried >= 25
    # What the tour met: pages, redirects, refusals of either kind, missing things.
    expected = {200, 303, 404} | ({403, 422} if signed else {401})
    assert expected <= statuses, statuses


def test_what_no_route_answers(service_client: tuple[TestClient, str]) -> None:
    http, token = service_client
    auth = {"Authorization": f"Bearer {token}"}
    for method, path in [("GET", "/nope"), ("GET", "/api/v1/nope"),
                         ("GET", "/fhir/Nope"), ("DELETE", "/api/v1/checks/number"),
                         ("PUT", "/login"), ("GET", "/api/v1/checks/bulk/" + "0" * 16),
                         ("GET", "/fhir/Patient/" + "0" * 32), ("GET", "/")]:  # fmt: skip
        response = http.request(method, path, headers=auth, follow_redirects=False)
        assert response.status_code in (303, 403, 404, 405), (method, path)
        assert_secured(response, f"{method} {path}")
    icon = http.get("/favicon.ico")  # the browser asks every site for it: no console 404
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert_secured(icon, "GET /favicon.ico")
    too_large = http.post("/api/v1/checks/number", content=b" " * (5 << 20),
                          headers={**auth, "Content-Type": "application/json"})  # fmt: skip
    assert too_large.status_code == 413
    assert_secured(too_large, "413")


def test_a_server_fault(service_client: tuple[TestClient, str]) -> None:
    http, _ = service_client

    def boom() -> None:
        raise RuntimeError("fault")

    for path in ("/api/v1/boom", "/boom"):
        http.app.add_api_route(path, boom)  # type: ignore[attr-defined]
        response = TestClient(http.app, raise_server_exceptions=False).get(path)
        assert response.status_code == 500
        assert_secured(response, path)


def test_pages_keep_their_own_policy_once(service_client: tuple[TestClient, str]) -> None:
    """The dashboard's pages set the same headers themselves: they are not sent twice."""
    http, _ = service_client
    page = http.get("/login")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert_secured(page, "/login")
