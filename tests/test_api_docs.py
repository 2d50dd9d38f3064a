"""The request examples of docs/api.md, sent to the real app, give the documented response."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
_PAIR = re.compile(
    r"<!-- request: (POST|GET) (\S+) -->\s*```json\n(.*?)```"
    r"\s*<!-- response -->\s*```json\n(.*?)```",
    re.S,
)


def test_documented_examples_answer_as_documented(service_client: tuple[TestClient, str]) -> None:
    http, token = service_client
    pairs = _PAIR.findall(DOC.read_text(encoding="utf-8"))
    assert pairs, "docs/api.md has no request/response examples"
    for method, path, request, expected in pairs:
        response = http.request(
            method, path, json=json.loads(request), headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        body.pop("patient", None)  # opaque and different every day
        assert body == json.loads(expected), f"{method} {path}"
