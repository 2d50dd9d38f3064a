"""The REST face over HTTP semantics: status codes, problem+json, OpenAPI, same core answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.feedfiles import KOKUHO

BODY = {"insurer_number": KOKUHO, "symbol": "12", "number": "1001", "branch": "01",
        "birth_date": "1970-05-15", "date_of_care": "2020-12-01", "purpose": "care"}  # fmt: skip


def test_check_by_number(service_client: tuple[TestClient, str]) -> None:
    http, token = service_client
    response = http.post(
        "/api/v1/checks/number", json=BODY, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["validity"], body["validity_label"]) == (1, "有効")
    assert body["results"][0]["copay_percent"] == 30 and body["patient"]
    later = http.post("/api/v1/checks/number", json={**BODY, "date_of_care": "2021-04-01"},
                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert later.json()["validity"] == 2


@pytest.mark.parametrize(
    ("headers", "body", "status", "kind"),
    [
        ({}, BODY, 401, "no_credential"),
        ({"Authorization": "Bearer kc_0000.bad"}, BODY, 401, "unknown_credential"),
        (None, {**BODY, "purpose": "marketing"}, 403, "purpose_not_allowed"),
        (None, {**BODY, "branch": "1"}, 422, "invalid"),
        (None, {k: v for k, v in BODY.items() if k != "birth_date"}, 422, "invalid"),
    ],
)
def test_errors_are_problem_documents(
    service_client: tuple[TestClient, str], headers: dict[str, str] | None, body: dict[str, str],
    status: int, kind: str,
) -> None:  # fmt: skip
    http, token = service_client
    if headers is None:
        headers = {"Authorization": f"Bearer {token}"}
    response = http.post("/api/v1/checks/number", json=body, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and problem["type"].endswith("/" + kind)
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def test_openapi_is_published_and_there_is_no_search_by_name(
    service_client: tuple[TestClient, str],
) -> None:
    http, _ = service_client
    spec = http.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert "/api/v1/checks/number" in paths and "/api/v1/checks/bulk" in paths
    # 告知要求制限: nothing lists members or searches by name.
    assert not [p for p in paths if "search" in p or "name" in p]
    assert all(not p.endswith("/members") for p in paths)
    # The two checks sit on the app's own router (verify.add_check_routes): still documented
    # once each, tagged as before.
    for path in ("/api/v1/checks/number", "/api/v1/checks/card"):
        assert spec["paths"][path]["post"]["tags"] == ["eligibility"]


def test_the_router_alone_tags_its_check_routes_once() -> None:
    from fastapi.routing import APIRoute

    from kokuho.verify import build_router

    routes = [r for r in build_router().routes if isinstance(r, APIRoute)]
    checks = {r.path: r.tags for r in routes if "/checks/" in r.path and "bulk" not in r.path}
    assert checks == {
        "/api/v1/checks/number": ["eligibility"],
        "/api/v1/checks/card": ["eligibility"],
    }


def _fhir_request(day: str = "2020-12-01", birth: str = "1970-05-15") -> dict[str, object]:
    ext = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/"
    return {
        "resourceType": "CoverageEligibilityRequest",
        "id": "req1",
        "status": "active",
        "purpose": ["validation"],
        "created": "2020-12-01T09:00:00+09:00",
        "servicedDate": day,
        "patient": {"reference": "#pat"},
        "insurer": {"identifier": {"system": "urn:oid:1.2.392.100495.20.3.61", "value": KOKUHO}},
        "contained": [
            {"resourceType": "Patient", "id": "pat", "birthDate": birth},
            {
                "resourceType": "Coverage",
                "id": "cov",
                "status": "active",
                "beneficiary": {"reference": "#pat"},
                "payor": [{"identifier": {"system": "urn:oid:1.2.392.100495.20.3.61",
                                          "value": KOKUHO}}],
                "extension": [
                    {"url": ext + "JP_Coverage_InsuredPersonSymbol", "valueString": "12"},
                    {"url": ext + "JP_Coverage_InsuredPersonNumber", "valueString": "1001"},
                    {"url": ext + "JP_Coverage_InsuredPersonSubNumber", "valueString": "01"},
                ],
            },
        ],
        "insurance": [{"coverage": {"reference": "#cov"}}],
    }  # fmt: skip


def test_the_three_faces_agree(service_client: tuple[TestClient, str]) -> None:
    """REST and FHIR give the same validity and numbers for the same person and day."""
    http, token = service_client
    auth = {"Authorization": f"Bearer {token}"}
    for day, validity in (("2020-12-01", 1), ("2021-04-01", 2)):
        rest = http.post("/api/v1/checks/number", json={**BODY, "date_of_care": day}, headers=auth)
        response = http.post(
            "/fhir/CoverageEligibilityRequest", json=_fhir_request(day), headers=auth
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/fhir+json")
        resource = response.json()
        codes = [
            int(e["valueCoding"]["code"])
            for e in resource.get("extension", [])
            if e["url"].endswith("qualification-validity")
        ]
        assert codes == [rest.json()["validity"]] == [validity]
        [insurance] = resource["insurance"]
        assert insurance["inforce"] is (validity == 1)


def test_fhir_errors_are_operation_outcomes(service_client: tuple[TestClient, str]) -> None:
    http, token = service_client
    unauthorised = http.post("/fhir/CoverageEligibilityRequest", json=_fhir_request())
    assert unauthorised.status_code == 401
    assert unauthorised.json()["resourceType"] == "OperationOutcome"
    assert unauthorised.json()["issue"][0]["code"] == "security"
    bad = _fhir_request()
    del bad["contained"][0]["birthDate"]  # type: ignore[index]
    invalid = http.post("/fhir/CoverageEligibilityRequest", json=bad,
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert invalid.status_code == 400 and invalid.json()["resourceType"] == "OperationOutcome"
    assert "birthDate" in str(invalid.json()["issue"])


def test_capability_statement_and_patient_read(service_client: tuple[TestClient, str]) -> None:
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement
    from fhir.resources.R4B.coverage import Coverage

    http, token = service_client
    CapabilityStatement.model_validate(http.get("/fhir/metadata").json())
    auth = {"Authorization": f"Bearer {token}"}
    today = __import__("datetime").date.today().isoformat()
    checked = http.post("/api/v1/checks/number", json={**BODY, "date_of_care": today}, headers=auth)
    assert checked.json()["validity"] == 2  # his coverage ended in 2021
    early = http.post("/api/v1/checks/number", json=BODY, headers=auth).json()
    read = http.get(f"/fhir/Patient/{early['patient']}", headers=auth)
    assert read.status_code == 200 and read.json()["birthDate"] == "1970-05-15"
    coverage = http.get(f"/fhir/Coverage/{early['patient']}", headers=auth)
    assert coverage.status_code == 404  # not in force today
    forged = http.get("/fhir/Patient/" + "0" * 32, headers=auth)
    assert forged.status_code == 403
    assert Coverage  # the model import itself is the R4B check used above


def test_insurer_numbers_are_parsed_once_and_a_bad_one_is_refused_every_time() -> None:
    from kokuho.verify._rest import NumberCheck, _insurer

    def body(insurer: str) -> NumberCheck:
        return NumberCheck.model_validate(
            {"insurer_number": insurer, "number": "1001", "birth_date": "1970-05-15",
             "purpose": "care"}
        )  # fmt: skip

    hits = _insurer.cache_info().hits
    first, again = body(KOKUHO).to_query(), body(KOKUHO).to_query()
    assert first.insurer == again.insurer == KOKUHO
    assert _insurer.cache_info().hits >= hits + 1
    wrong = KOKUHO[:-1] + str((int(KOKUHO[-1]) + 1) % 10)  # the check digit (検証番号) is off
    for _ in range(2):
        with pytest.raises(ValueError, match="検証番号"):
            body(wrong).to_query()


@pytest.mark.parametrize("field", ["insurer_number", "branch", "purpose"])
def test_a_my_number_sent_in_the_wrong_field_is_not_answered_back(
    service_client: tuple[TestClient, str], field: str
) -> None:
    """A My Number put in another field (a mix-up at the counter) is refused, and neither the
    problem document repeats it (a refused purpose shows only its last four digits)."""
    http, token = service_client
    number = "123456789018"  # synthetic, valid 検査用数字
    response = http.post("/api/v1/checks/number", json={**BODY, field: number},
                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code in (403, 422), response.text
    assert number not in response.text
    if field == "purpose":
        assert "********9018" in response.json()["detail"]


def test_a_credential_tells_whom_it_speaks_for(service_client: tuple[TestClient, str]) -> None:
    http, token = service_client
    response = http.get("/api/v1/credential", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "institution" and body["institution_code"] == "3710112347"
    assert body["insurer_number"] is None and token.startswith(body["credential_id"] + ".")
    assert http.get("/api/v1/credential").status_code == 401
