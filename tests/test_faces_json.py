"""A JSON body whose object names a member twice is refused on both faces (found by the second
faces probe): it was read last-wins, so ``"number": "45", "number": "46"`` checked 46 and
``"purpose": "marketing", "purpose": "care"`` was answered as care, while a proxy, a log or the
clinic's own software reading the first value saw another request than the one answered. RFC
8259 §4 leaves such a text's meaning to the reader; I-JSON (RFC 7493 §2.3) forbids it. NaN and
Infinity, which Python's reader accepts, are not JSON either."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.test_rest import BODY, _fhir_request


def _with_repeat(body: dict[str, object], key: str, value: object) -> str:
    """``body`` as JSON text with ``key`` given again, as ``value``, at the end."""
    return json.dumps(body)[:-1] + f", {json.dumps(key)}: {json.dumps(value)}}}"


@pytest.mark.parametrize(
    ("key", "value"), [("number", "9999"), ("purpose", "care"), ("birth_date", "1970-05-15")]
)
def test_a_repeated_member_of_a_check_is_refused(
    service_client: tuple[TestClient, str], key: str, value: str
) -> None:
    http, token = service_client
    body = {**BODY, "purpose": "marketing"} if key == "purpose" else BODY
    response = http.post(
        "/api/v1/checks/number", content=_with_repeat(body, key, value),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/malformed-body")
    assert f"duplicate member {key!r}" in problem["detail"]


def test_a_repeated_member_in_a_bulk_item_is_refused(
    service_client: tuple[TestClient, str],
) -> None:
    http, token = service_client
    item = _with_repeat(BODY, "number", "9999")
    response = http.post(
        "/api/v1/checks/bulk", content=f'{{"items": [{json.dumps(BODY)}, {item}]}}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400, response.text
    assert "duplicate member 'number'" in response.json()["detail"]


def test_a_repeated_member_of_a_fhir_request_is_refused(
    service_client: tuple[TestClient, str],
) -> None:
    http, token = service_client
    response = http.post(
        "/fhir/CoverageEligibilityRequest",
        content=_with_repeat(_fhir_request(), "servicedDate", "2019-01-01"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "invalid"
    assert "duplicate member 'servicedDate'" in issue["diagnostics"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(
    service_client: tuple[TestClient, str], constant: str
) -> None:
    http, token = service_client
    text = json.dumps({**BODY, "limit_consent": False}).replace("false", constant)
    response = http.post(
        "/api/v1/checks/number", content=text,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/malformed-body")


def test_the_same_member_in_two_objects_is_no_repeat(
    service_client: tuple[TestClient, str],
) -> None:
    """Each object has its own members: the FHIR request names ``id`` and ``resourceType`` in
    several objects, and is answered."""
    http, token = service_client
    response = http.post(
        "/fhir/CoverageEligibilityRequest", json=_fhir_request(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
