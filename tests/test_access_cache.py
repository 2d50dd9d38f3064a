"""What a token costs the database: the authenticator remembers the credential row by id (and
ids never issued, in bounded memory) for its freshness bound, so random secrets for a real id,
or a burst of one unknown id, cost one read; a revocation is still honoured within the bound.

Reads are counted on the real engine (SQLite and PostgreSQL) by an event listener."""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import threading
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.verify._access import (
    AccessDenied,
    Authenticator,
    Principal,
    issue_credential,
    load_institutions,
    revoke_credential,
)
from kokuho.verify._access_cache import UNKNOWN_LIMIT
from kokuho.verify._tables import credentials
from tests.conftest import CLINIC
from tests.feedfiles import write_csv
from tests.test_auth_refusals import Clock

BOUND = 5.0  # docs/operations.md: a revocation reaches running servers within 5 seconds


class Reads:
    """Counts the credential look-ups the engine runs; ``delay`` holds each one back."""

    def __init__(self, engine: sa.Engine, delay: float = 0.0) -> None:
        self.count = 0
        self.delay = delay
        self._lock = threading.Lock()
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        statement: str = args[2]
        if "FROM credentials" in statement:
            with self._lock:
                self.count += 1
            time.sleep(self.delay)


@pytest.fixture
def clinic(engine: sa.Engine, tmp_path: Path) -> Iterator[None]:
    write_csv(
        tmp_path / "inst.csv",
        ["institution_code", "name", "status"],
        [{"institution_code": CLINIC, "name": "讃岐クリニック", "status": "active"}],
    )
    load_institutions(engine, tmp_path / "inst.csv")
    yield


def _reason(auth: Authenticator, token: str) -> AccessDenied:
    with pytest.raises(AccessDenied) as denied:
        auth.authenticate(token)
    return denied.value


def test_the_documented_bound_is_the_default() -> None:
    assert inspect.signature(Authenticator).parameters["cache_seconds"].default == BOUND


def test_a_thousand_wrong_secrets_of_a_real_id_cost_at_most_one_read(
    engine: sa.Engine, clinic: None
) -> None:
    credential, token = issue_credential(engine, label="受付", institution=CLINIC)
    reads = Reads(engine)
    auth = Authenticator(engine, clock=Clock())
    for i in range(1000):
        denied = _reason(auth, f"{credential}.guess{i:04d}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
        # Answered as an id never issued; named for the audit log only.
        assert (denied.reason, str(denied)) == ("unknown_credential", "the credential is not valid")
        assert denied.credential_id == credential and denied.institution_code == CLINIC
    assert reads.count == 1
    assert auth.authenticate(token).credential_id == credential  # the real one still works
    # Once the right secret was seen, one of the same length that differs is still refused.
    near = token[:-1] + ("x" if token[-1] != "x" else "y")
    assert _reason(auth, near).credential_id == credential
    assert auth.authenticate(token).credential_id == credential
    assert reads.count == 1


def test_ten_thousand_unknown_ids_keep_the_cache_bounded(engine: sa.Engine, clinic: None) -> None:
    reads = Reads(engine)
    auth = Authenticator(engine, clock=Clock())
    for i in range(10_000):
        denied = _reason(auth, f"kc_{i:016x}.secret")
        assert denied.reason == "unknown_credential" and denied.credential_id is None
        assert auth.remembered()[1] <= UNKNOWN_LIMIT
    assert reads.count == 10_000  # each new id once
    assert auth.remembered() == (0, UNKNOWN_LIMIT)
    for _ in range(1000):  # the same unknown id again and again: remembered
        _reason(auth, f"kc_{9_999:016x}.other")
    assert reads.count == 10_000
    # An id longer than any issued one (the column holds 24) is never looked up, nor kept.
    assert _reason(auth, "kc_" + "0" * 5000 + ".x").reason == "unknown_credential"
    assert reads.count == 10_000 and auth.remembered() == (0, UNKNOWN_LIMIT)
    # A new credential works at once, however full the negative cache is.
    credential, token = issue_credential(engine, label="新規", institution=CLINIC)
    assert auth.authenticate(token).credential_id == credential


def test_a_revocation_is_honoured_within_the_bound(engine: sa.Engine, clinic: None) -> None:
    clock = Clock()
    reads = Reads(engine)
    auth = Authenticator(engine, clock=clock)
    credential, token = issue_credential(engine, label="受付", institution=CLINIC)
    assert auth.authenticate(token).credential_id == credential
    assert revoke_credential(engine, credential)
    clock.now += BOUND - 0.01  # still the row read before: accepted, no read
    assert auth.authenticate(token).credential_id == credential
    # Wrong secrets meanwhile do not keep the row: its age counts from its read.
    _reason(auth, f"{credential}.wrong")
    assert reads.count == 1
    clock.now += 0.02
    denied = _reason(auth, token)
    assert (denied.reason, denied.credential_id) == ("revoked_credential", credential)
    assert reads.count == 2
    assert _reason(auth, f"{credential}.wrong").reason == "unknown_credential"
    assert reads.count == 2


def test_an_id_issued_after_it_was_refused_works_within_the_bound(
    engine: sa.Engine, clinic: None
) -> None:
    """Ids are 64 random bits, so an id is remembered as unknown before it is issued only if
    someone sent it first (or a lagging replica answered): then it works within the bound."""
    clock = Clock()
    reads = Reads(engine)
    auth = Authenticator(engine, clock=clock)
    credential, secret = "kc_00000000000000aa", "s" * 43
    assert _reason(auth, f"{credential}.{secret}").reason == "unknown_credential"
    with engine.begin() as connection:
        connection.execute(
            credentials.insert().values(
                credential_id=credential, kind="institution", institution_code=CLINIC,
                secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                label="x", created_at=dt.datetime.now(dt.UTC),
            )
        )  # fmt: skip
    clock.now += BOUND - 0.01
    assert _reason(auth, f"{credential}.{secret}").reason == "unknown_credential"
    assert reads.count == 1
    clock.now += 0.02
    principal = auth.authenticate(f"{credential}.{secret}")
    assert principal == Principal(credential, "institution", CLINIC, None, "医科")
    assert reads.count == 2


def test_a_burst_of_one_unknown_id_from_many_threads_costs_one_read(
    engine: sa.Engine, clinic: None
) -> None:
    reads = Reads(engine, delay=0.3)  # every caller arrives while the first read is running
    auth = Authenticator(engine)
    start = threading.Barrier(32)

    def attempt(i: int) -> str:
        start.wait()
        return _reason(auth, f"kc_0123456789abcdef.guess{i}").reason

    with ThreadPoolExecutor(32) as pool:
        assert set(pool.map(attempt, range(32))) == {"unknown_credential"}
    assert reads.count == 1


def test_a_burst_of_one_real_id_costs_one_read_and_each_is_answered_on_its_secret(
    engine: sa.Engine, clinic: None
) -> None:
    credential, token = issue_credential(engine, label="受付", institution=CLINIC)
    reads = Reads(engine, delay=0.3)
    auth = Authenticator(engine)
    start = threading.Barrier(16)

    def attempt(i: int) -> str:
        start.wait()
        try:
            auth.authenticate(token if i % 2 else f"{credential}.guess{i}")
        except AccessDenied as denied:
            return denied.reason
        return "accepted"

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(attempt, range(16)))
    assert answers == ["unknown_credential", "accepted"] * 8
    assert reads.count == 1


def test_a_failed_read_is_not_remembered(engine: sa.Engine, clinic: None) -> None:
    credential, token = issue_credential(engine, label="受付", institution=CLINIC)
    auth = Authenticator(engine)
    failures = [RuntimeError("the database did not answer")]

    def fail_once(*args: Any) -> None:
        if "FROM credentials" in args[2] and failures:
            raise failures.pop()

    sa.event.listen(engine, "before_cursor_execute", fail_once)
    with pytest.raises(RuntimeError):
        auth.authenticate(token)
    assert auth.remembered() == (0, 0)
    assert auth.authenticate(token).credential_id == credential


def test_each_refusal_is_a_new_exception(engine: sa.Engine, clinic: None) -> None:
    """A remembered refusal raised again and again would carry every earlier request's frames
    (a traceback grows with each raise) and be shared between threads."""
    credential, token = issue_credential(engine, label="受付", institution=CLINIC)
    assert revoke_credential(engine, credential)
    auth = Authenticator(engine)
    first, second = _reason(auth, token), _reason(auth, token)
    assert first is not second and first.reason == second.reason == "revoked_credential"
    assert len(traceback.extract_tb(second.__traceback__)) <= 3


def test_the_docs_state_the_bounds() -> None:
    docs = Path(__file__).parents[1] / "docs"
    operations = (docs / "operations.md").read_text(encoding="utf-8")
    api = (docs / "api.md").read_text(encoding="utf-8")
    for text in (operations, api):
        assert f"{UNKNOWN_LIMIT:,}" in text and f"{BOUND:.0f} seconds" in text
