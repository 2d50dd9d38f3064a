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


def _table(marker: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    block = text[text.index(marker) :].split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in block.splitlines()[3:]]
    return [[cell.strip().strip("`") for cell in row] for row in rows]


def test_the_documented_problem_kinds_are_the_served_ones() -> None:
    from kokuho.verify._problems import KINDS, MAX_BODY_BYTES

    documented = {kind: int(status) for kind, status, _ in _table("<!-- problem kinds")}
    assert documented == {kind: status for kind, (status, _) in KINDS.items()}
    assert f"{MAX_BODY_BYTES:,} bytes" in DOC.read_text(encoding="utf-8")


def test_every_refusal_in_the_code_is_a_documented_kind() -> None:
    """A new AccessDenied reason in verify must be added to the catalogue (and so the docs)."""
    from kokuho.verify._problems import KINDS

    source = Path(__file__).resolve().parents[1] / "src" / "kokuho" / "verify"
    reasons = {
        reason
        for path in source.glob("*.py")
        for reason in re.findall(r'AccessDenied\(\s*"(\w+)"', path.read_text(encoding="utf-8"))
    }
    assert len(reasons) >= 8 and reasons <= set(KINDS), reasons - set(KINDS)


def test_the_documented_issue_codes_are_the_served_ones() -> None:
    from kokuho.verify._problems import ISSUE_TYPES

    documented = {int(status): code for status, code in _table("<!-- issue codes")}
    assert documented == ISSUE_TYPES


def test_the_problem_example_is_what_the_server_answers(
    service_client: tuple[TestClient, str],
) -> None:
    http, token = service_client
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Errors and limits") :]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    body = {"insurer_number": "370015", "number": "1001", "birth_date": "1870-05-15",
            "purpose": "care"}  # fmt: skip
    response = http.post(
        "/api/v1/checks/number", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == example
