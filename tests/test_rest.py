"""The REST face over HTTP semantics: status codes, problem+json, OpenAPI, same core answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kokuho.config import Settings
from kokuho.registry import import_changes, load_insurers
from kokuho.store import connect
from kokuho.verify import issue_credential, load_institutions
from kokuho.web import create_app
from tests.feedfiles import KOKUHO, acquire, lose, write_changes, write_csv, write_insurers

CLINIC = "3710112347"


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    engine = connect(database_url)
    load_insurers(engine, write_insurers(tmp_path / "i.csv"))
    import_changes(
        engine,
        write_changes(tmp_path / "c.csv", [acquire("K1", "2020-04-01"), lose("K2", "2021-04-01")]),
    )
    clinic = {"institution_code": CLINIC, "name": "讃岐クリニック", "status": "active"}
    write_csv(tmp_path / "inst.csv", list(clinic), [clinic])
    load_institutions(engine, tmp_path / "inst.csv")
    _, token = issue_credential(engine, label="受付", institution=CLINIC)
    engine.dispose()
    settings = Settings(tmp_path, database_url, tmp_path / "m.key", tmp_path / "s.key")
    with TestClient(create_app(settings)) as http:
        yield http, token


BODY = {"insurer_number": KOKUHO, "symbol": "12", "number": "1001", "branch": "01",
        "birth_date": "1970-05-15", "date_of_care": "2020-12-01", "purpose": "care"}  # fmt: skip


def test_check_by_number(client: tuple[TestClient, str]) -> None:
    http, token = client
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
    client: tuple[TestClient, str], headers: dict[str, str] | None, body: dict[str, str],
    status: int, kind: str,
) -> None:  # fmt: skip
    http, token = client
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
    client: tuple[TestClient, str],
) -> None:
    http, _ = client
    spec = http.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert "/api/v1/checks/number" in paths and "/api/v1/checks/bulk" in paths
    # 告知要求制限: nothing lists members or searches by name.
    assert not [p for p in paths if "search" in p or "name" in p]
    assert all(not p.endswith("/members") for p in paths)
