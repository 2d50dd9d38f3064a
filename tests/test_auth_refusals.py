"""Refused authentications (認証の拒否): a 401 that names a real credential is on the audit
log, bounded per credential and reason; one that names none goes to the server log only."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kokuho.verify._access import (
    AccessDenied,
    Authenticator,
    issue_credential,
    revoke_credential,
)
from kokuho.verify._access_refusals import RefusalRecorder
from kokuho.verify._audit import verify_chain
from kokuho.verify._service import EligibilityService
from kokuho.verify._tables import audit_log
from tests.conftest import CLINIC, small_service
from tests.feedfiles import KOKUHO, write_csv

CLOSED = "3740112341"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def service(engine: sa.Engine, tmp_path: Path) -> Iterator[EligibilityService]:
    from kokuho.verify._access import load_institutions

    write_csv(
        tmp_path / "inst.csv",
        ["institution_code", "name", "status"],
        [{"institution_code": CLINIC, "name": "讃岐クリニック", "status": "active"},
         {"institution_code": CLOSED, "name": "閉院薬局", "status": "closed"}],
    )  # fmt: skip
    load_institutions(engine, tmp_path / "inst.csv")
    svc = EligibilityService(engine, b"k" * 32)
    yield svc
    svc.close()


def _records(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all())


def _wait_for(engine: sa.Engine, count: int) -> list[Any]:
    """The records once ``count`` are there (the writer commits them without the 401 waiting)."""
    deadline = time.monotonic() + 10
    rows = _records(engine)
    while len(rows) < count and time.monotonic() < deadline:
        time.sleep(0.02)
        rows = _records(engine)
    return rows


def _refuse(auth: Authenticator, token: str | None, times: int = 1) -> str:
    reason = ""
    for _ in range(times):
        with pytest.raises(AccessDenied) as denied:
            auth.authenticate(token)
        reason = denied.value.reason
    return reason


def test_refusals_of_a_real_credential_are_audited_one_record_a_window(
    service: EligibilityService, engine: sa.Engine
) -> None:
    clock = Clock()
    recorder = RefusalRecorder(service.audit, window=60, clock=clock, background=False)
    # Cached outcomes too: a client hammering with its revoked key hits the cache.
    auth = Authenticator(engine, refusals=recorder)
    credential, token = issue_credential(engine, label="受付", institution=CLINIC)
    assert auth.authenticate(token).credential_id == credential
    assert revoke_credential(engine, credential)
    auth = Authenticator(engine, refusals=recorder)
    assert _refuse(auth, token, times=5) == "revoked_credential"
    first = _wait_for(engine, 1)
    assert len(first) == 1
    row = first[0]
    assert (row.actor, row.institution_code, row.purpose, row.action, row.outcome) == (
        credential, CLINIC, "none", "authenticate", "refused:revoked_credential",
    )  # fmt: skip
    assert json.loads(row.detail)["refusals"] == 1
    clock.now += 59  # still the same window: counted, not written
    _refuse(auth, token, times=3)
    time.sleep(0.1)
    assert len(_records(engine)) == 1
    clock.now += 2  # the window is over: the next refusal carries the 7 held back with it
    _refuse(auth, token)
    rows = _wait_for(engine, 2)
    assert len(rows) == 2
    assert json.loads(rows[1].detail)["refusals"] == 8
    assert rows[1].actor == credential
    assert verify_chain(engine).ok


def test_a_wrong_secret_of_a_real_id_is_audited_without_the_secret(
    service: EligibilityService, engine: sa.Engine
) -> None:
    """A guess at a real key: the caller gets the same 401 as for an id never issued (nothing
    tells it the id exists), the audit log names the id, and no guessed secret is stored."""
    recorder = RefusalRecorder(service.audit, clock=Clock(), background=False)
    auth = Authenticator(engine, cache_seconds=0, refusals=recorder)
    credential, token = issue_credential(engine, label="受付", institution=CLINIC)
    guesses = [f"{credential}.guess{i}SECRET" for i in range(4)] + [token[:-1] + "x"]
    messages = set()
    for guess in guesses:
        with pytest.raises(AccessDenied) as denied:
            auth.authenticate(guess)
        assert denied.value.reason == "unknown_credential"
        messages.add(str(denied.value))
    with pytest.raises(AccessDenied) as never_issued:
        auth.authenticate("kc_0123456789abcdef.whatever")
    assert messages == {str(never_issued.value)}
    rows = _wait_for(engine, 1)
    time.sleep(0.1)
    rows = _records(engine)
    assert [(r.actor, r.outcome) for r in rows] == [(credential, "refused:unknown_credential")]
    stored = repr([tuple(r) for r in rows])
    assert "SECRET" not in stored and token.partition(".")[2] not in stored
    assert "kc_0123456789abcdef" not in stored
    recorder.close()  # the 4 held back are written when the server stops
    rows = _wait_for(engine, 2)
    assert [json.loads(r.detail)["refusals"] for r in rows] == [1, 4]


def test_an_institution_not_active_is_audited_with_its_code(
    service: EligibilityService, engine: sa.Engine
) -> None:
    recorder = RefusalRecorder(service.audit, clock=Clock(), background=False)
    auth = Authenticator(engine, refusals=recorder)
    credential, token = issue_credential(engine, label="x", institution=CLOSED)
    assert _refuse(auth, token) == "institution_not_active"
    (row,) = _wait_for(engine, 1)
    assert (row.actor, row.institution_code, row.outcome) == (
        credential, CLOSED, "refused:institution_not_active",
    )  # fmt: skip


def test_held_back_refusals_are_written_when_their_window_ends(
    service: EligibilityService, engine: sa.Engine
) -> None:
    """A flood that stops: its count is not left waiting for a refusal that may never come."""
    clock = Clock()
    recorder = RefusalRecorder(service.audit, window=60, clock=clock, background=False)
    auth = Authenticator(engine, refusals=recorder)
    credential, token = issue_credential(engine, label="x", institution=CLOSED)
    _refuse(auth, token, times=10)
    _wait_for(engine, 1)
    recorder.flush_due()
    time.sleep(0.1)
    assert len(_records(engine)) == 1  # the window is not over
    clock.now += 61
    recorder.flush_due()
    rows = _wait_for(engine, 2)
    assert [json.loads(r.detail)["refusals"] for r in rows] == [1, 9]
    recorder.flush_due()
    recorder.close()
    time.sleep(0.1)
    assert len(_records(engine)) == 2  # nothing more held back


def test_tokens_naming_no_credential_go_to_the_server_log_only(
    service: EligibilityService, engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    recorder = RefusalRecorder(service.audit, log_every=10, clock=clock, background=False)
    auth = Authenticator(engine, cache_seconds=0, refusals=recorder)
    issue_credential(engine, label="受付", institution=CLINIC)
    caplog.set_level(logging.WARNING, logger="kokuho.verify._access_refusals")
    never = "kc_0123456789abcdef.NEVERISSUED"
    for _ in range(50):
        _refuse(auth, None)
        _refuse(auth, "123456789018")  # malformed (a My Number pasted as a token)
        _refuse(auth, never)
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1  # at most one line every 10 seconds
    clock.now += 11
    _refuse(auth, never)
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2
    assert "no_credential 49" in logged[1] and "malformed_credential 50" in logged[1]
    assert "unknown_credential 51" in logged[1]  # the last one with them
    assert not any("123456789018" in m or "NEVERISSUED" in m or "kc_0123" in m for m in logged)
    recorder.close()
    time.sleep(0.1)
    assert _records(engine) == []


def test_a_valid_credential_never_reaches_the_recorder(
    service: EligibilityService, engine: sa.Engine
) -> None:
    seen: list[AccessDenied] = []

    class Spy(RefusalRecorder):
        def refused(self, denied: AccessDenied) -> None:
            seen.append(denied)

    auth = Authenticator(engine, refusals=Spy(service.audit, background=False))
    _, token = issue_credential(engine, label="受付", institution=CLINIC)
    for _ in range(3):
        auth.authenticate(token)
    assert seen == []


def test_the_app_audits_a_revoked_key_once_per_request_on_every_face(
    database_url: str, tmp_path: Path
) -> None:
    """The check route's fast path tries the credential before FastAPI's handler does: one
    refused request is one refusal counted, not two. What is held back is written when the
    server stops."""
    from kokuho.store import connect
    from kokuho.web import create_app

    settings, token = small_service(database_url, tmp_path)
    engine = connect(database_url)
    credential = token.partition(".")[0]
    assert revoke_credential(engine, credential)
    auth = {"Authorization": f"Bearer {token}"}
    body = {"insurer_number": KOKUHO, "symbol": "12", "number": "1001", "branch": "01",
            "birth_date": "1970-05-15", "purpose": "care"}  # fmt: skip
    try:
        with TestClient(create_app(settings)) as http:
            refused = http.post("/api/v1/checks/number", json=body, headers=auth)
            assert refused.status_code == 401
            assert refused.json()["type"].endswith("/revoked_credential")
            rows = _wait_for(engine, 1)
            assert [(r.actor, r.outcome) for r in rows] == [
                (credential, "refused:revoked_credential")
            ]
            assert json.loads(rows[0].detail)["refusals"] == 1
            fhir = http.post("/fhir/CoverageEligibilityRequest", json={}, headers=auth)
            assert fhir.status_code == 401
            never = {"Authorization": "Bearer kc_0123456789abcdef.x"}
            assert http.post("/api/v1/checks/number", json=body, headers=never).status_code == 401
            time.sleep(0.1)
            assert len(_records(engine)) == 1
        rows = _wait_for(engine, 2)
        assert [json.loads(r.detail)["refusals"] for r in rows] == [1, 1]
        assert [r.actor for r in rows] == [credential] * 2
    finally:
        engine.dispose()
