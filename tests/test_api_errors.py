"""Every error of every operation on /api/v1 and /fhir comes in the face's documented format:
RFC 9457 problem+json with a stable ``type`` on REST, OperationOutcome as fhir+json on FHIR,
including what the framework answers before a route runs (404, 405, 400, 413, 415)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from kokuho.verify._problems import KINDS, MAX_BODY_BYTES, TYPE_BASE
from tests.apiroutes import Operation, allowed_methods, operations

STATUS_ISSUES = {400: "invalid", 401: "security", 404: "not-found", 405: "not-supported",
                 413: "too-long", 415: "not-supported", 500: "exception"}  # fmt: skip
ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
UNAUTHENTICATED_OK = {"GET /api/v1/health", "GET /fhir/metadata"}


def assert_face_error(
    operation: Operation | str, response: httpx.Response, status: int, kind: str
) -> dict[str, Any]:
    """The response is the face's error document for ``status`` (``kind`` on REST)."""
    face = operation.face if isinstance(operation, Operation) else operation
    assert response.status_code == status, (str(operation), response.text)
    body: dict[str, Any] = response.json()
    if face == "fhir":
        assert response.headers["content-type"].startswith("application/fhir+json")
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"], body
        for issue in body["issue"]:
            assert issue["severity"] == "error" and issue["diagnostics"]
            if status in STATUS_ISSUES:
                assert issue["code"] == STATUS_ISSUES[status], (str(operation), body)
    else:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert body["type"] == TYPE_BASE + kind, (str(operation), body)
        assert body["status"] == status and body["title"] and body["detail"]
        assert KINDS[kind][0] == status
    return body


def documented(
    spec: dict[str, Any], operation: Operation, status: int, response: httpx.Response | None = None
) -> None:
    """The OpenAPI entry of the operation lists ``status`` with the face's error media type
    (and, given the ``response``, every header it documents as required is in it)."""
    responses = spec["paths"][operation.template][operation.method.lower()]["responses"]
    assert str(status) in responses, (str(operation), status, sorted(responses))
    media = "application/fhir+json" if operation.face == "fhir" else "application/problem+json"
    assert media in responses[str(status)]["content"], (str(operation), status)
    if response is not None:
        for name, header in responses[str(status)].get("headers", {}).items():
            assert not header.get("required") or name in response.headers, (str(operation), name)


@pytest.fixture
def api(service_client: tuple[TestClient, str]) -> Iterator[tuple[TestClient, dict[str, str]]]:
    http, token = service_client
    yield http, {"Authorization": f"Bearer {token}"}


def test_the_route_table_has_both_faces(api: tuple[TestClient, dict[str, str]]) -> None:
    http, _ = api
    faces = {op.face for op in operations(http.app)}  # type: ignore[arg-type]
    assert faces == {"rest", "fhir"} and len(operations(http.app)) >= 11  # type: ignore[arg-type]


def test_unknown_paths_under_each_face(api: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = api
    for operation in operations(http.app):  # type: ignore[arg-type]
        response = http.request(operation.method, operation.path + "/no/such", headers=auth)
        body = assert_face_error(operation, response, 404, "not-found")
        assert "/no/such" in str(body)
    for face, prefix in (("rest", "/api/v1"), ("fhir", "/fhir")):
        for path in (prefix, prefix + "/", prefix + "/Nope/1", prefix + "/%00"):
            assert_face_error(face, http.get(path, headers=auth), 404, "not-found")


def test_wrong_methods(api: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = api
    spec = http.get("/openapi.json").json()
    tried = 0
    for operation in operations(http.app):  # type: ignore[arg-type]
        allowed = allowed_methods(http.app, operation.path)  # type: ignore[arg-type]
        for method in set(ALL_METHODS) - allowed:
            response = http.request(method, operation.path, headers=auth)
            assert_face_error(operation, response, 405, "method-not-allowed")
            assert set(response.headers["allow"].split(", ")) == allowed
            # The document lists 405 (with Allow) on every operation of the path.
            documented(spec, operation, 405, response)
            tried += 1
    assert tried > 30


def test_missing_credentials(api: tuple[TestClient, dict[str, str]]) -> None:
    http, _ = api
    spec = http.get("/openapi.json").json()
    for operation in operations(http.app):  # type: ignore[arg-type]
        if str(operation) in UNAUTHENTICATED_OK:
            continue
        response = http.request(operation.method, operation.path, json={})
        if operation.face == "rest" and operation.takes_body:
            # The body is read before the caller: an empty object is refused first.
            assert response.status_code in (401, 422), str(operation)
            response = http.request(operation.method, operation.path)
        if response.status_code == 422:
            continue  # POST /card/challenges has no body; all others need one
        assert_face_error(operation, response, 401, "no_credential")
        assert response.headers["www-authenticate"] == "Bearer"
        documented(spec, operation, 401, response)


def _body_operations(http: TestClient) -> list[Operation]:
    found = [op for op in operations(http.app) if op.takes_body]  # type: ignore[arg-type]
    assert len(found) >= 5
    return found


def test_bodies_that_do_not_parse(api: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = api
    spec = http.get("/openapi.json").json()
    json_type = {**auth, "Content-Type": "application/json"}
    for operation in _body_operations(http):
        for raw in (b'{"insurer_number": ', b"\xff\xfe", b"[" * 100_000, b"{'a': 1}"):
            response = http.request(operation.method, operation.path, content=raw,
                                    headers=json_type)  # fmt: skip
            if operation.template == "/api/v1/card/challenges":
                # Takes no body: it never reads one, so nothing to refuse.
                assert response.status_code == 403, response.text
                continue
            body = assert_face_error(operation, response, 400, "malformed-body")
            assert "JSON" in str(body)
            documented(spec, operation, 400)


def test_bodies_too_large(api: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = api
    spec = http.get("/openapi.json").json()
    huge = b" " * (MAX_BODY_BYTES + 1)
    json_type = {**auth, "Content-Type": "application/json"}
    for operation in _body_operations(http):
        response = http.request(operation.method, operation.path, content=huge, headers=json_type)
        body = assert_face_error(operation, response, 413, "payload-too-large")
        assert f"{MAX_BODY_BYTES:,}" in str(body)
        # Without Content-Length (chunked), the limit holds all the same.
        chunks = iter([b" " * MAX_BODY_BYTES, b"{}"])
        response = http.request(operation.method, operation.path, content=chunks,
                                headers=json_type)  # fmt: skip
        assert "content-length" not in response.request.headers
        assert_face_error(operation, response, 413, "payload-too-large")
        documented(spec, operation, 413)


def test_a_body_at_the_limit_is_read(api: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = api
    padded = b'{"reference_number": "1"}'.ljust(MAX_BODY_BYTES, b" ")
    response = http.put("/api/v1/patients/" + "0" * 32 + "/reference-number", content=padded,
                        headers={**auth, "Content-Type": "application/json"})  # fmt: skip
    # Read and understood: refused only because the handle is not one this clinic was given.
    assert response.status_code == 403 and "bad_patient_handle" in response.json()["type"]


def test_bodies_that_are_not_json(api: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = api
    spec = http.get("/openapi.json").json()
    for operation in _body_operations(http):
        for content_type in ("text/plain", "application/xml", "application/x-www-form-urlencoded",
                             None):  # fmt: skip
            headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
            response = http.request(operation.method, operation.path, content=b"{}",
                                    headers=headers)  # fmt: skip
            body = assert_face_error(operation, response, 415, "unsupported-media-type")
            assert (content_type or "no Content-Type") in str(body)
        documented(spec, operation, 415)
    fhir = http.post(
        "/fhir/CoverageEligibilityRequest",
        content=b"{}",
        headers={**auth, "Content-Type": "application/fhir+json; charset=utf-8"},
    )
    assert fhir.status_code == 400  # the media type is right; the resource is not
    rest = http.post("/api/v1/checks/number", content=b"{}",
                     headers={**auth, "Content-Type": "application/fhir+json"})  # fmt: skip
    assert rest.status_code == 422  # any +json is JSON on REST


def test_bodies_of_the_wrong_shape(api: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = api
    spec = http.get("/openapi.json").json()
    for operation in _body_operations(http):
        if operation.template == "/api/v1/card/challenges":
            continue
        for body in ([], "text", {"unexpected": 1}):
            response = http.request(operation.method, operation.path, json=body, headers=auth)
            status = 400 if operation.face == "fhir" else 422
            problem = assert_face_error(operation, response, status, "invalid")
            if operation.face == "rest":
                assert problem["errors"] and all(e["message"] for e in problem["errors"])
            documented(spec, operation, status)


def test_a_405_raised_without_allow_gains_no_empty_allow(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    """A 405 a route raises itself carries no Allow; the error handler must not invent an
    empty one (``Allow:`` with no method says the resource allows nothing)."""
    from fastapi import HTTPException

    http, _ = api

    def refuse() -> None:
        raise HTTPException(status_code=405)

    def refuse_naming() -> None:
        raise HTTPException(status_code=405, headers={"Allow": "GET"})

    http.app.add_api_route("/api/v1/refuse", refuse)  # type: ignore[attr-defined]
    http.app.add_api_route("/api/v1/refuse-naming", refuse_naming)  # type: ignore[attr-defined]
    bare = http.get("/api/v1/refuse")
    assert_face_error("rest", bare, 405, "method-not-allowed")
    assert "allow" not in bare.headers
    named = http.get("/api/v1/refuse-naming")
    assert_face_error("rest", named, 405, "method-not-allowed")
    assert named.headers["allow"] == "GET, HEAD"


def test_server_faults_keep_the_face_format(api: tuple[TestClient, dict[str, str]]) -> None:
    http, _ = api

    def boom() -> None:
        raise RuntimeError("secret detail of a fault")

    for path in ("/api/v1/boom", "/fhir/boom", "/boom"):
        http.app.add_api_route(path, boom)  # type: ignore[attr-defined]
    plain = TestClient(http.app, raise_server_exceptions=False)
    for face, path in (("rest", "/api/v1/boom"), ("fhir", "/fhir/boom")):
        body = assert_face_error(face, plain.get(path), 500, "internal-error")
        assert "secret" not in str(body)
    dashboard = plain.get("/boom")
    assert dashboard.status_code == 500 and "secret" not in dashboard.text


def test_faults_of_every_operation_are_documented(api: tuple[TestClient, dict[str, str]]) -> None:
    """A fault while an operation runs is a 500 in the face's format, listed in the document."""
    http, auth = api
    spec = http.get("/openapi.json").json()

    def broken(token: str | None) -> Any:
        raise RuntimeError("secret detail of a fault")

    app: Any = http.app
    app.state.authenticate = broken
    plain = TestClient(app, raise_server_exceptions=False)
    tried = 0
    for operation in operations(app):
        if str(operation) in UNAUTHENTICATED_OK:
            documented(spec, operation, 500)  # nothing of ours to break; listed all the same
            continue
        response = plain.request(operation.method, operation.path, headers=auth)
        body = assert_face_error(operation, response, 500, "internal-error")
        assert "secret" not in str(body)
        documented(spec, operation, 500, response)
        tried += 1
    assert tried >= 9


def test_the_fhir_post_declares_both_json_media_types(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    """docs/api.md: /fhir takes application/fhir+json and application/json alike."""
    http, auth = api
    spec = http.get("/openapi.json").json()
    body = spec["paths"]["/fhir/CoverageEligibilityRequest"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/fhir+json", "application/json"}
    for media in body["content"]:
        response = http.post("/fhir/CoverageEligibilityRequest", content=b"{}",
                             headers={**auth, "Content-Type": media})  # fmt: skip
        assert response.status_code == 400 and response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("length", [b"\xb2", b"\xb9\xb2", b"1\xb3"])
def test_a_content_length_of_latin1_digits_is_a_400_not_a_500(length: bytes) -> None:
    """Header bytes are Latin-1: '²' and '¹' pass str.isdigit, and int() failed on them (a
    500). Servers that check the header themselves never pass it on; one that does not must
    still get the face's 400."""
    import asyncio
    import concurrent.futures

    from kokuho.verify._http_errors import REST_PREFIX, BodyGuard

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the request reached the app")

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": f"{REST_PREFIX}/eligibility/number",
        "headers": [(b"content-length", length), (b"content-type", b"application/json")],
    }  # fmt: skip
    # In a thread of its own: the test's thread may have a loop of the test client's running.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(BodyGuard(inner)(scope, receive, send))).result()
    assert sent[0]["status"] == 400
