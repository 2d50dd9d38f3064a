"""The OpenAPI document describes the server: a bounded schemathesis run (every check, fixed
seed) against the real app on a SQLite register, with a clinic's valid credential, finds
no server error and no mismatch between what the document promises and what is answered."""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

SEED = 20261206
MAX_EXAMPLES = 100
#: Operations whose request carries an insurer number: JSON Schema can say "6 or 8 digits"
#: but not "whose last is the check digit (検証番号)", so a schema-valid number may be
#: refused with 422, naming the field. Everything else a schema allows must be answered.
_CHECK_DIGITS = ["2xx", "401", "403", "404", "422"]
#: A CoverageEligibilityRequest's rules (contained resources named by reference, JP Core
#: extensions) go beyond JSON Schema: the schema-valid but incomplete resource gets a 400
#: OperationOutcome that names what is missing.
_FHIR_RULES = ["2xx", "400", "401", "403"]
POSITIVE_LIMITS = {
    "/api/v1/checks/number": _CHECK_DIGITS,
    "/api/v1/checks/bulk": _CHECK_DIGITS,
    "/api/v1/insurer/members/{insurer}/{symbol}/{number}/{branch}": _CHECK_DIGITS,
    "/fhir/CoverageEligibilityRequest": _FHIR_RULES,
}


#: The checks that apply to this API (no operation creates or deletes a resource, so the
#: stateful resource checks have nothing to look at); each must have run.
EVERY_CHECK = {
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
    "positive_data_acceptance", "unsupported_method", "ignored_auth",
}  # fmt: skip


def _config(token: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "headers": {"Authorization": f"Bearer {token}"},
        "generation": {"max-examples": MAX_EXAMPLES},
        "operations": [
            {"include-path": path,
             "checks": {"positive_data_acceptance": {"expected-statuses": statuses}}}
            for path, statuses in POSITIVE_LIMITS.items()
        ],
    })  # fmt: skip


def _describe(label: str, check: Any) -> str:
    info = check.failure_info
    return f"{label}: {check.name}: {info.failure.title}\n{info.code_sample}"


def run(app: Any, token: str) -> tuple[list[str], set[str], set[str], float]:
    """Failures (each with the request to reproduce), operations tried, checks run, seconds."""

    async def without_lifespan(scope: Any, receive: Any, send: Any) -> None:
        # The test's own client runs the app's lifespan; schemathesis must not start another.
        if scope["type"] == "lifespan":
            raise RuntimeError("lifespan is run by the test client")
        await app(scope, receive, send)

    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", without_lifespan, config=_config(token)
    )
    started = time.monotonic()
    failures: list[str] = []
    tried: set[str] = set()
    ran: set[str] = set()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            tried.add(event.recorder.label)
            ran |= {check.name for checks in event.recorder.checks.values() for check in checks}
            failures += [_describe(event.recorder.label, check)
                         for checks in event.recorder.checks.values()
                         for check in checks if check.failure_info is not None]  # fmt: skip
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: error: {event.info}")
        elif isinstance(event, events.FatalError):
            failures.append(f"fatal: {event.exception}")
    return failures, tried, ran, time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_server_keeps_its_openapi_contract(service_client: tuple[TestClient, str]) -> None:
    http, token = service_client
    spec = http.get("/openapi.json").json()
    operations = {f"{method.upper()} {path}" for path, item in spec["paths"].items()
                  for method in item}  # fmt: skip
    failures, tried, ran, seconds = run(http.app, token)
    assert not failures, "\n\n".join(sorted(set(failures))[:10])
    assert operations <= tried, operations - tried
    assert ran >= EVERY_CHECK, EVERY_CHECK - ran
    assert seconds < 240


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_every_body_is_described(service_client: tuple[TestClient, str]) -> None:
    """No operation of the faces takes or answers a body whose schema accepts anything."""
    http, _ = service_client
    spec = http.get("/openapi.json").json()
    described = 0
    for path, item in spec["paths"].items():
        if not path.startswith(("/api/v1", "/fhir")):
            continue
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            request = operation.get("requestBody", {}).get("content", {})
            assert bool(request) == (method in ("post", "put") and "challenges" not in path), label
            for status, response in operation["responses"].items():
                for media, content in response.get("content", {}).items():
                    schema = _resolve(spec, content["schema"])
                    assert schema.get("type") == "object" and schema.get("required"), (
                        label, status, media)  # fmt: skip
                    if path.startswith("/fhir"):
                        assert media == "application/fhir+json", (label, status)
                    elif status >= "400":
                        assert media == "application/problem+json", (label, status)
                    described += 1
            for content in request.values():
                schema = _resolve(spec, content["schema"])
                assert schema.get("required") and schema.get("properties"), label
                if path.startswith("/api/v1"):
                    assert schema.get("additionalProperties") is False, label
    assert described >= 50
