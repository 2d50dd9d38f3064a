"""The dashboard (every path outside /api/v1 and /fhir) answers a missing page and a wrong
method with its own Japanese page, never FastAPI's ``{"detail": …}`` JSON; a missing static
file is plain text. Checked over the dashboard's route table of the real app."""

from __future__ import annotations

import httpx2 as httpx
import lxml.html
from fastapi.testclient import TestClient

from tests.apiroutes import allowed_methods, operations
from tests.test_security_headers import assert_secured

ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def assert_page(response: httpx.Response, status: int, title: str, label: str) -> None:
    assert response.status_code == status, (label, response.text[:300])
    assert response.headers["content-type"].startswith("text/html"), label
    document = lxml.html.fromstring(response.text)
    assert document.get("lang") == "ja", label
    assert document.xpath("string(//h1)") == title, label
    assert document.xpath("//link[@href='/static/dashboard.css']"), label
    assert document.xpath("//a[@href='/overview']"), label
    assert "detail" not in response.text, label
    assert_secured(response, label)


def _dashboard_routes(http: TestClient) -> list[tuple[str, str]]:
    elsewhere = ("/api/v1", "/fhir", "/docs", "/redoc", "/openapi")
    every = operations(http.app, faces_only=False)  # type: ignore[arg-type]
    found = [(op.method, op.path) for op in every if not op.path.startswith(elsewhere)]
    assert len(found) >= 10, found
    return found


def test_paths_that_do_not_exist(service_client: tuple[TestClient, str]) -> None:
    http, _ = service_client
    for path in ("/nonexistent", "/overview/no/such", "/municipalities/370015/no/such", "/%00"):
        assert_page(http.get(path), 404, "ページが見つかりません", path)
    for method, path in _dashboard_routes(http):
        label = f"{method} {path}/no/such"
        assert_page(http.request(method, path + "/no/such"), 404, "ページが見つかりません", label)


def test_methods_a_page_does_not_take(service_client: tuple[TestClient, str]) -> None:
    http, _ = service_client
    tried = 0
    for _, path in _dashboard_routes(http):
        allowed = allowed_methods(http.app, path)  # type: ignore[arg-type]
        for method in set(ALL_METHODS) - allowed:
            response = http.request(method, path)
            assert_page(response, 405, "この操作はできません", f"{method} {path}")
            assert set(response.headers["allow"].split(", ")) == allowed
            tried += 1
    assert tried > 20


def test_a_bad_parameter_is_a_page_of_the_same_kind(
    service_client: tuple[TestClient, str],
) -> None:
    """A 400 (a parameter outside its allowed values) reads like the 404 and the 405: the
    dashboard's style sheet and link back, the parameter and the reason in the alert; it
    was a bare page without the style (black Times on white)."""
    http, _ = service_client
    for path, named in (
        ("/compare?fy=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%91", "fy: "),
        ("/audit?before=0", "before: "),
        ("/municipalities/%00", "保険者番号: "),
        ("/boundary/cases/99999999999", "case: "),
    ):
        response = http.get(path)
        assert_page(response, 400, "入力が正しくありません", path)
        alert = lxml.html.fromstring(response.text).xpath("string(//*[@role='alert'])")
        assert alert.startswith(named), (path, alert)


def test_a_missing_static_file_is_plain_text(service_client: tuple[TestClient, str]) -> None:
    http, _ = service_client
    for path in ("/static/nope.css", "/static/sub/nope.js"):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/plain"), path
        assert response.text == "Not Found" and "detail" not in response.text
        assert_secured(response, path)
    assert http.get("/static/dashboard.css").status_code == 200


def test_the_api_faces_keep_their_own_formats(service_client: tuple[TestClient, str]) -> None:
    http, _ = service_client
    rest = http.get("/api/v1/nonexistent")
    assert rest.status_code == 404
    assert rest.headers["content-type"].startswith("application/problem+json")
    fhir = http.delete("/fhir/metadata")
    assert fhir.status_code == 405
    assert fhir.headers["content-type"].startswith("application/fhir+json")
