"""The FHIR parameters for all interactions (R4 http.html#parameters): ``_format``,
``_elements``, ``_pretty``, and unknown parameters, lenient unless ``Prefer: handling=strict``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.test_rest import BODY, _fhir_request

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
             "code": "SUBSETTED", "display": "subsetted"}  # fmt: skip


@pytest.fixture
def fhir(service_client: tuple[TestClient, str]) -> tuple[TestClient, dict[str, str], str]:
    """The client, its credential header and a patient handle from a check."""
    http, token = service_client
    auth = {"Authorization": f"Bearer {token}"}
    checked = http.post("/api/v1/checks/number", json=BODY, headers=auth)
    return http, auth, checked.json()["patient"]


def _issue(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    [issue] = body["issue"]
    return dict(issue)


@pytest.mark.parametrize(
    ("value", "media"),
    [("json", "application/fhir+json"), ("application/fhir+json", "application/fhir+json"),
     ("application/fhir json", "application/fhir+json"),  # a '+' left unescaped in the URL
     ("application/fhir+json;fhirVersion=4.0", "application/fhir+json"),
     ("application/json", "application/fhir+json")],  # the FHIR JSON format, R4 says
)  # fmt: skip
def test_json_formats_are_served(
    fhir: tuple[TestClient, dict[str, str], str], value: str, media: str
) -> None:
    http, auth, handle = fhir
    plain = http.get(f"/fhir/Patient/{handle}", headers=auth)
    read = http.get(f"/fhir/Patient/{handle}", params={"_format": value}, headers=auth)
    assert read.status_code == 200, read.text
    assert read.headers["content-type"].split(";")[0] == media
    assert read.json() == plain.json()


@pytest.mark.parametrize(
    "value", ["xml", "application/fhir+xml", "text/xml", "application/xml", "ttl", "html", "csv"]
)
def test_other_formats_are_not_acceptable(
    fhir: tuple[TestClient, dict[str, str], str], value: str
) -> None:
    """406 with an OperationOutcome naming _format, on a read, the check and metadata alike,
    before anything is read (the caller's credential is not even needed to learn it)."""
    http, auth, handle = fhir
    for response in (
        http.get(f"/fhir/Patient/{handle}", params={"_format": value}, headers=auth),
        http.get("/fhir/metadata", params={"_format": value}),
        http.post("/fhir/CoverageEligibilityRequest", params={"_format": value},
                  json=_fhir_request(), headers=auth),
        http.post("/fhir/CoverageEligibilityRequest", params={"_format": value},
                  json=_fhir_request()),
    ):  # fmt: skip
        assert response.status_code == 406, response.text
        assert response.headers["content-type"].startswith("application/fhir+json")
        issue = _issue(response)
        assert issue["code"] == "not-supported"
        assert "_format" in issue["diagnostics"] and issue["expression"] == ["http._format"]


@pytest.mark.parametrize(
    "accept",
    ["application/fhir+xml", "application/xml", "text/html", "application/fhir+xml, text/*",
     "application/fhir+json;q=0, application/fhir+xml", "application/json;q=abc",
     "application/json;q=2", "application/json;q=nan", "image/*, \x00"],
)  # fmt: skip
def test_an_accept_header_admitting_no_json_is_not_acceptable(
    fhir: tuple[TestClient, dict[str, str], str], accept: str
) -> None:
    """R4 negotiates by Accept when there is no _format: XML alone is 406 naming Accept, on
    a read, metadata and the check (before anything runs), with or without other parameters."""
    http, auth, handle = fhir
    head = {"Accept": accept}
    for response in (
        http.get(f"/fhir/Patient/{handle}", headers={**auth, **head}),
        http.get(f"/fhir/Patient/{handle}", params={"_pretty": "true"}, headers={**auth, **head}),
        http.get("/fhir/metadata", headers=head),
        http.post("/fhir/CoverageEligibilityRequest", json=_fhir_request(),
                  headers={**auth, **head}),
    ):  # fmt: skip
        assert response.status_code == 406, (accept, response.text)
        assert response.headers["content-type"].startswith("application/fhir+json")
        issue = _issue(response)
        assert issue["code"] == "not-supported" and issue["expression"] == ["http.Accept"]


@pytest.mark.parametrize(
    "accept",
    ["", "*/*", "application/*", "application/json", "application/fhir+json",
     "APPLICATION/FHIR+JSON; fhirVersion=4.0", "application/fhir+xml, application/fhir+json;q=0.1",
     "text/html, */*;q=0.01"],
)  # fmt: skip
def test_an_accept_header_admitting_json_is_served_json(
    fhir: tuple[TestClient, dict[str, str], str], accept: str
) -> None:
    http, auth, handle = fhir
    plain = http.get(f"/fhir/Patient/{handle}", headers=auth)
    read = http.get(f"/fhir/Patient/{handle}", headers={**auth, "Accept": accept})
    assert read.status_code == 200, read.text
    assert read.json() == plain.json()


def test_format_overrides_the_accept_header(
    fhir: tuple[TestClient, dict[str, str], str],
) -> None:
    http, auth, handle = fhir
    read = http.get(f"/fhir/Patient/{handle}", params={"_format": "json"},
                    headers={**auth, "Accept": "application/fhir+xml"})  # fmt: skip
    assert read.status_code == 200, read.text
    assert read.headers["content-type"].split(";")[0] == "application/fhir+json"


def test_elements_returns_the_named_and_the_mandatory_elements_marked_subsetted(
    fhir: tuple[TestClient, dict[str, str], str],
) -> None:
    http, auth, handle = fhir
    full = http.get(f"/fhir/Patient/{handle}", headers=auth).json()
    assert {"birthDate", "name", "gender"} <= set(full)
    read = http.get(f"/fhir/Patient/{handle}", params={"_elements": "birthDate"}, headers=auth)
    assert read.status_code == 200, read.text
    subset = read.json()
    assert set(subset) == {"resourceType", "id", "meta", "birthDate"}
    assert subset["birthDate"] == full["birthDate"] and subset["id"] == full["id"]
    assert SUBSETTED in subset["meta"]["tag"]
    assert subset["meta"]["profile"] == full["meta"]["profile"]
    # CapabilityStatement: status, date, kind, fhirVersion and format are mandatory (1..).
    meta = http.get("/fhir/metadata", params={"_elements": "software,nosuchelement"}).json()
    assert set(meta) == {"resourceType", "meta", "software", "status", "date", "kind",
                         "fhirVersion", "format"}  # fmt: skip
    assert SUBSETTED in meta["meta"]["tag"]


def test_elements_keeps_the_contained_resources_its_references_need(
    fhir: tuple[TestClient, dict[str, str], str],
) -> None:
    """A CoverageEligibilityResponse's insurance points at a contained Coverage: the subset
    keeps what it references, as a resource must."""
    from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse

    http, auth, _ = fhir
    response = http.post("/fhir/CoverageEligibilityRequest", params={"_elements": "insurance"},
                         json=_fhir_request(), headers=auth)  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert "insurance" in body and "contained" in body and "extension" not in body
    for mandatory in ("status", "purpose", "patient", "created", "request", "outcome", "insurer"):
        assert mandatory in body
    CoverageEligibilityResponse.model_validate(body)
    bare = http.post("/fhir/CoverageEligibilityRequest", params={"_elements": "outcome"},
                     json=_fhir_request(), headers=auth).json()  # fmt: skip
    assert "contained" in bare  # patient is #pat: mandatory, and so is what it points at


@pytest.mark.parametrize("value", ["", "name.family", "birthDate,,x", "a b", "x" * 300])
def test_an_elements_value_that_names_no_element_is_refused(
    fhir: tuple[TestClient, dict[str, str], str], value: str
) -> None:
    http, auth, handle = fhir
    response = http.get(f"/fhir/Patient/{handle}", params={"_elements": value}, headers=auth)
    assert response.status_code == 400
    assert _issue(response)["expression"] == ["http._elements"]


def test_errors_are_not_subsetted(fhir: tuple[TestClient, dict[str, str], str]) -> None:
    http, _, handle = fhir
    refused = http.get(f"/fhir/Patient/{handle}", params={"_elements": "birthDate"})
    assert refused.status_code == 401
    assert "meta" not in refused.json() and _issue(refused)["code"] == "security"


def test_pretty(fhir: tuple[TestClient, dict[str, str], str]) -> None:
    http, _, _ = fhir
    plain = http.get("/fhir/metadata")
    pretty = http.get("/fhir/metadata", params={"_pretty": "true"})
    assert "\n  " in pretty.text and "\n" not in plain.text
    assert pretty.json() == plain.json()
    assert http.get("/fhir/metadata", params={"_pretty": "false"}).text == plain.text
    assert http.get("/fhir/metadata", params={"_pretty": "yes"}).status_code == 400


def test_unknown_parameters_are_ignored_unless_the_client_asks_for_strict_handling(
    fhir: tuple[TestClient, dict[str, str], str],
) -> None:
    """search.html: a server SHOULD ignore unknown or unsupported parameters (lenient), and
    with ``Prefer: handling=strict`` return an error for them."""
    http, auth, handle = fhir
    plain = http.get(f"/fhir/Patient/{handle}", headers=auth).json()
    unknown = {"_summary": "true", "_foo": "1", "family": "x"}
    lenient = http.get(f"/fhir/Patient/{handle}", params=unknown, headers=auth)
    assert lenient.status_code == 200 and lenient.json() == plain
    asked = {**auth, "Prefer": "handling=lenient"}
    assert http.get(f"/fhir/Patient/{handle}", params=unknown, headers=asked).status_code == 200
    for prefer in ("handling=strict", "return=minimal, handling=strict", "HANDLING = Strict"):
        strict = http.get(f"/fhir/Patient/{handle}", params=unknown,
                          headers={**auth, "Prefer": prefer})  # fmt: skip
        assert strict.status_code == 400, prefer
        issue = _issue(strict)
        for name in unknown:
            assert name in issue["diagnostics"]
    known = http.get(f"/fhir/Patient/{handle}", params={"_format": "json", "_pretty": "false"},
                     headers={**auth, "Prefer": "handling=strict"})  # fmt: skip
    assert known.status_code == 200


def test_a_parameter_given_twice_is_refused(fhir: tuple[TestClient, dict[str, str], str]) -> None:
    http, auth, handle = fhir
    response = http.get(f"/fhir/Patient/{handle}?_format=json&_format=xml", headers=auth)
    assert response.status_code == 400
    assert _issue(response)["expression"] == ["http._format"]


def test_the_parameters_are_in_the_openapi_document(
    service_client: tuple[TestClient, str],
) -> None:
    http, _ = service_client
    paths = http.get("/openapi.json").json()["paths"]
    for path, method in (("/fhir/metadata", "get"), ("/fhir/Patient/{handle}", "get"),
                         ("/fhir/Coverage/{handle}", "get"),
                         ("/fhir/CoverageEligibilityRequest", "post")):  # fmt: skip
        operation = paths[path][method]
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert {"_format", "_elements", "_pretty"} <= names, path
        assert {"400", "406"} <= set(operation["responses"]), path
