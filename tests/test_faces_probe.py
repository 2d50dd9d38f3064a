"""Defects found by probing the running service's faces from outside (a clinic's software and a
hostile client), each reproduced through real HTTP: a FHIR request with a null element that
the model lets through, a fault's answer that let a pooled client lose the next caller's check,
an OQS request file whose name is too long to be set aside, and numbers refused without
naming their field."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.test_rest import _fhir_request


def test_a_null_beneficiary_is_refused_naming_it(service_client: tuple[TestClient, str]) -> None:
    """``"beneficiary": null`` passes the R4B model (a null element counts as absent) and was a
    500; it is a 400 OperationOutcome at the element, like a missing or wrong reference."""
    http, token = service_client
    resource: dict[str, Any] = _fhir_request()
    resource["contained"][1]["beneficiary"] = None
    response = http.post(
        "/fhir/CoverageEligibilityRequest",
        json=resource,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "invalid"
    assert issue["expression"] == ["CoverageEligibilityRequest.contained[1].beneficiary"]
    assert issue["diagnostics"] == "must reference #pat"
