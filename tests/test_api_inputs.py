"""No input reaches a 500: every parameter of every /api/v1 and /fhir operation (path, query,
body field, header), given NUL bytes, non-ASCII, lone surrogates, 5,000-character strings or
integers beyond 64 bits, is answered below 500, and every refusal is in the face's error format
with a reason. NUL, oversize and out-of-range values are always refused (4xx)."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.apiroutes import FACES, PATH_VALUES, fill, operations
from tests.feedfiles import KOKUHO
from tests.test_api_errors import UNAUTHENTICATED_OK, assert_face_error
from tests.test_rest import _fhir_request

NUMBER = {"insurer_number": KOKUHO, "symbol": "12", "number": "1001", "branch": "01",
          "birth_date": "1970-05-15", "date_of_care": "2020-12-01", "purpose": "care",
          "limit_consent": False}  # fmt: skip
#: A well-formed body for every operation that takes one; a new operation must add its own.
BODIES: dict[str, Any] = {
    "POST /api/v1/checks/number": NUMBER,
    "POST /api/v1/checks/bulk": {"items": [NUMBER]},
    "POST /api/v1/checks/card": {"certificate_pem": "-----BEGIN CERTIFICATE-----",
                                 "challenge_id": "0" * 32, "signature": "AAAA",
                                 "purpose": "care", "consent": ["limit"], "consent_days": 1},
    "PUT /api/v1/patients/{patient}/reference-number": {"reference_number": "A-1"},
    "POST /fhir/CoverageEligibilityRequest": _fhir_request(),
    "POST /api/v1/card/challenges": None,
}  # fmt: skip
QUERIES = {"date": "2020-12-01"}
#: Always refused, wherever they are put.
REFUSED = ["\x00", "12\x0034", "x" * 5000, "1" * 5000, 9223372036854775808,
           -9223372036854775809, 10**40, {"nested": "\x00"}]  # fmt: skip
#: Never a 500; may be a valid value for a free-text field (記号, 照会番号).
ODD = ["日本語", "１２", "\ud800", "😀" * 3, "9223372036854775808", "-1", "0", "' OR 1=1 --",
       "<script>", "../..", "%00", "", " ", 1.5, True, None, [], -1, 0]  # fmt: skip


Target = tuple[str, str, tuple[Any, ...]]


def _targets(app: Any) -> list[Target]:
    """(operation, where, key path) for every parameter of every operation of the faces."""
    found: list[Target] = []
    for op in operations(app):
        label = str(op)
        if label not in UNAUTHENTICATED_OK:
            found.append((label, "header", ("Authorization",)))
        found += [(label, "path", (name,)) for name in PATH_VALUES if f"{{{name}}}" in op.template]
        found += [(label, "query", (name,)) for name in QUERIES
                  if name in {p.name for p in op.route.dependant.query_params}]  # fmt: skip
        if op.template.startswith("/fhir"):  # the parameters of every FHIR interaction
            found += [(label, "query", (name,)) for name in ("_format", "_elements", "_pretty")]
        body = BODIES[label] if op.takes_body else None
        if isinstance(body, dict):
            found += [(label, "body", (key,)) for key in body]
            if label.startswith("POST /api/v1/checks/bulk"):
                found += [(label, "body", ("items", 0, key)) for key in NUMBER]
            if label.startswith("POST /fhir"):
                found += [(label, "body", path) for path in [
                    ("contained", 0, "birthDate"), ("servicedDate",),
                    ("contained", 1, "extension", 1, "valueString"),
                    ("insurer", "identifier", "value"), ("patient", "reference"),
                ]]  # fmt: skip
    return found


def _send(http: TestClient, token: str, target: Target, value: Any) -> Any:
    label, where, path = target
    method, template = label.split(" ", 1)
    headers: dict[str, Any] = {"Authorization": f"Bearer {token}"}
    params = dict(PATH_VALUES)
    query = dict(QUERIES) if "{" in template and method == "GET" else {}
    body = copy.deepcopy(BODIES.get(label))
    if where == "header":
        text = value if isinstance(value, str) else json.dumps(value)
        # As raw bytes: a client may send any octets, not only what httpx would encode.
        headers["Authorization"] = ("Bearer " + text).encode("utf-8", "surrogatepass")
    elif where == "path":
        text = value if isinstance(value, str) else json.dumps(value)
        params[path[0]] = quote(text, safe="", errors="surrogatepass")
    elif where == "query":
        query[path[0]] = value if isinstance(value, str) else json.dumps(value)
    else:
        node = body
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    url = fill(template, **params)
    if query:
        # Encoded here: lone surrogates are octets a client can send, httpx would refuse them.
        pairs = (f"{k}={quote(v, safe='', errors='surrogatepass')}" for k, v in query.items())
        url += "?" + "&".join(pairs)
    content = None if body is None else json.dumps(body, ensure_ascii=True).encode()
    headers["Content-Type"] = "application/json"
    return http.request(method, url, content=content, headers=headers)


@settings(max_examples=250, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_no_input_reaches_a_server_error(
    service_client: tuple[TestClient, str], data: st.DataObject
) -> None:
    http, token = service_client
    target = data.draw(st.sampled_from(_targets(http.app)), label="target")
    value = data.draw(st.one_of(st.sampled_from(REFUSED + ODD), st.text(max_size=30),
                                st.integers(min_value=-(2**70), max_value=2**70)),
                      label="value")  # fmt: skip
    _check(http, token, target, value)


def test_every_parameter_with_every_hostile_value(service_client: tuple[TestClient, str]) -> None:
    """The whole grid, not a sample: each target with each listed value."""
    http, token = service_client
    targets = _targets(http.app)
    for target in targets:
        for value in REFUSED + ODD:
            _check(http, token, target, value)
    assert len(targets) >= 40


def _check(http: TestClient, token: str, target: Target, value: Any) -> None:
    response = _send(http, token, target, value)
    face = "fhir" if target[0].split(" ", 1)[1].startswith("/fhir") else "rest"
    assert response.status_code < 500, (target, value, response.text)
    if value in REFUSED and not (target[1] == "header" and isinstance(value, dict)):
        assert response.status_code >= 400, (target, value, response.text)
    if response.status_code >= 400:
        kind = response.json().get("type", "").rsplit("/", 1)[-1] if face == "rest" else ""
        assert_face_error(face, response, response.status_code, kind)


def test_every_parameter_is_a_target(service_client: tuple[TestClient, str]) -> None:
    """The targets cover each parameter the OpenAPI document declares, on both faces."""
    http, _ = service_client
    spec = http.get("/openapi.json").json()
    targets = {(label, str(path[0]).lower()) for label, _, path in _targets(http.app)}
    for template, item in spec["paths"].items():
        if not template.startswith(FACES):
            continue
        for method, operation in item.items():
            label = f"{method.upper()} {template}"
            for parameter in operation.get("parameters", []):
                assert (label, parameter["name"].lower()) in targets, (label, parameter["name"])
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                schema = media["schema"]
                if "$ref" in schema:
                    schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
                for name in schema.get("required", []):
                    assert (label, name.lower()) in targets, (label, name)


@pytest.mark.parametrize(
    ("field", "value"),
    [("number", "\x00"), ("number", "x" * 5000), ("symbol", "1\x002"),
     ("insurer_number", "9223372036854775808"), ("birth_date", 9223372036854775808),
     ("date_of_care", "9999-12-31"), ("limit_consent", "true")],
)  # fmt: skip
def test_the_reason_names_the_field(
    service_client: tuple[TestClient, str], field: str, value: Any
) -> None:
    http, token = service_client
    response = _send(http, token, ("POST /api/v1/checks/number", "body", (field,)), value)
    problem = assert_face_error("rest", response, 422, "invalid")
    assert [e["field"] for e in problem["errors"]] == [field]
