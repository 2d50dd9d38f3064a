"""The check routes' fast path (verify/_rest_fast.py) answers exactly as FastAPI's own handler
for the route: seeded random bodies, content types and credentials, each sent once through
the fast path and once with it switched off, must get the same status, headers that matter
and body; and the fast path must actually serve the common case."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kokuho.verify import _rest_fast
from tests.feedfiles import KOKUHO

NUMBER = {"insurer_number": KOKUHO, "symbol": "12", "number": "1001", "branch": "01",
          "birth_date": "1970-05-15", "date_of_care": "2020-12-01", "purpose": "care"}  # fmt: skip
CARD = {"certificate_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "attestation": {"terminal_id": "reader-1", "fingerprint": "a" * 64,
                        "institution_code": "3710112347",
                        "issued_at": "2020-12-01T09:00:00+09:00", "nonce": "AAAA",
                        "signature": "AAAA"},
        "purpose": "care"}  # fmt: skip
ODD_VALUES: list[Any] = [
    "", "\u0000", "1\u00001", "x" * 25, 10**30, -(10**30), -1, 0, True, False, None, 1.5,
    float("1e308"), [], {}, "2020-02-30", "１２３", " 12", "care", "claim", "precheck",
    "marketing", "2020-12-01", "2020-12-01T09:00:00Z", "01", "1", "370015", "37001", "\ud800",
]  # fmt: skip
CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain", None,
                 "application/problem+json", "APPLICATION/JSON"]  # fmt: skip


def _mutate(base: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    body = json.loads(json.dumps(base))
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        target = body
        if "attestation" in body and isinstance(body["attestation"], dict) and rng.random() < 0.3:
            target = body["attestation"]
        action = rng.random()
        keys = list(target)
        if action < 0.15 and keys:
            del target[rng.choice(keys)]
        elif action < 0.25:
            target[rng.choice(("extra", "limit_consent", "consent", "consent_days"))] = rng.choice(
                ODD_VALUES
            )
        elif keys:
            target[rng.choice(keys)] = rng.choice(ODD_VALUES)
    return body


def _raw_bodies(rng: random.Random, base: dict[str, Any]) -> list[bytes]:
    valid = json.dumps(base).encode()
    return [
        b"", b"[]", b"null", b"{", b'"text"', b"\xff\xfe", valid + b"x", valid.replace(b"{", b"{{"),
        b"[" * 5000 + b"]" * 5000, json.dumps(base).encode("utf-16"),
        json.dumps({**base, "purpose": "care"}, ensure_ascii=False).encode(),
        b'{"purpose": "care", "purpose": "marketing"}',
    ]  # fmt: skip


def _send(http: TestClient, path: str, body: bytes, content_type: str | None,
          authorization: str | None) -> tuple[int, str | None, Any]:  # fmt: skip
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if authorization is not None:
        headers["Authorization"] = authorization
    response = http.post(path, content=body, headers=headers)
    try:
        parsed: Any = response.json()
    except ValueError:
        parsed = response.text
    return response.status_code, response.headers.get("content-type"), parsed


def _cases(token: str, seed: int) -> list[tuple[str, bytes, str | None, str | None]]:
    rng = random.Random(seed)
    auths = [f"Bearer {token}", f"bearer {token}", f"Bearer  {token} ", None, "Bearer",
             "Basic abc", "Bearer kc_0000.bad", f"Token {token}"]  # fmt: skip
    cases = []
    for path, base in (("/api/v1/checks/number", NUMBER), ("/api/v1/checks/card", CARD)):
        for _ in range(60):
            body = json.dumps(_mutate(base, rng)).encode()
            auth = auths[0] if rng.random() < 0.6 else rng.choice(auths)
            content = CONTENT_TYPES[0] if rng.random() < 0.7 else rng.choice(CONTENT_TYPES)
            cases.append((path, body, content, auth))
        for raw in _raw_bodies(rng, base):
            cases.append((path, raw, "application/json", auths[0]))
    return cases


@pytest.mark.parametrize("seed", [1, 2])
def test_the_fast_path_answers_as_the_framework_does(
    service_client: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    http, token = service_client
    cases = _cases(token, seed)
    fast = [_send(http, *case) for case in cases]
    with monkeypatch.context() as switched:
        switched.setattr(_rest_fast, "body_of", _never)  # every request to FastAPI's handler
        framework = [_send(http, *case) for case in cases]
    for case, one, other in zip(cases, fast, framework, strict=True):
        assert one == other, case
    statuses = {status for status, _, _ in fast}
    assert {200, 401, 403, 422} <= statuses  # the cases reach answers and refusals


async def _never(request: Any, model: Any) -> None:
    return None


def test_the_fast_path_serves_the_common_case(
    service_client: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    http, token = service_client
    served: list[str] = []
    real = _rest_fast.body_of

    async def spy(request: Any, model: Any) -> Any:
        found = await real(request, model)
        served.append("fast" if found is not None else "framework")
        return found

    monkeypatch.setattr(_rest_fast, "body_of", spy)
    auth = {"Authorization": f"Bearer {token}"}
    assert http.post("/api/v1/checks/number", json=NUMBER, headers=auth).status_code == 200
    assert http.post("/api/v1/checks/number", json={**NUMBER, "branch": "1"},
                     headers=auth).status_code == 422  # fmt: skip
    assert served == ["fast", "framework"]
