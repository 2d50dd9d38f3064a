"""One user's bad input never breaks another's service. A real uvicorn server (real threads,
real connections) on SQLite and PostgreSQL: a signed-in municipal user floods the dashboard
with malformed requests while clinics check eligibility through the REST API; every check is
answered 200 and audited, the chain verifies. And a race of parallel sign-ins cannot get past
the lockout."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from kokuho.cli._dashboard import served
from kokuho.store import connect
from kokuho.verify import verify_chain
from kokuho.web.dashboard import tables as t
from kokuho.web.dashboard._accounts import MAX_FAILURES
from tests.dashsite import CHECK, MUNICIPAL, PASSWORD, PREFECTURE, Site, build_site, sign_in
from tests.feedfiles import KOKUHO

LIST = f"/municipalities/{KOKUHO}/lists/overlaps"
#: What the outside tester sent, and more of its kind: each must be a 400.
MALFORMED = [
    f"{LIST}?download=list-overlaps&format={'x' * 30}",
    f"{LIST}?download=list-overlaps&format=csv%00",
    f"{LIST}?download=list-overlaps&format=%3Cscript%3E'%20OR%201=1;--{'y' * 5000}",
    f"{LIST}?download=%00&format=csv",
    f"{LIST}?fy=99999999999999999999",
    "/audit?before=9223372036854775808",
    "/compare?fy=%00",
    "/municipalities/" + "9" * 3000,
]
CHECKERS = 4
FLOODERS = 3
SECONDS = 6.0


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Site]]:
    """``kokuho serve``'s app under uvicorn on a free loopback port, over ``database_url``."""
    site = build_site(database_url, tmp_path)
    with served(tmp_path, database_url=database_url) as url:
        yield url, site


def test_a_flood_of_malformed_dashboard_requests_leaves_every_check_answered_and_audited(
    server: tuple[str, Site],
) -> None:
    url, site = server
    stop = threading.Event()
    lock = threading.Lock()
    checks: list[int] = []
    flood: dict[str, list[int]] = {"malformed": [], "valid": []}

    def check() -> None:
        auth = {"Authorization": f"Bearer {site.token}"}
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set():
                try:
                    status = client.post("/api/v1/checks/number", json=CHECK, headers=auth)
                    code = status.status_code
                except httpx.TransportError:
                    code = 0  # a reset connection counts as a failed check
                with lock:
                    checks.append(code)

    def misbehave() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            assert sign_in(client, MUNICIPAL).status_code == 303
            n = 0
            while not stop.is_set():
                n += 1
                if n % 5 == 0:  # a good download now and then: its records share batches
                    answer = client.get(f"{LIST}?download=list-overlaps&format=csv")
                    with lock:
                        flood["valid"].append(answer.status_code)
                    continue
                answer = client.get(MALFORMED[n % len(MALFORMED)])
                with lock:
                    flood["malformed"].append(answer.status_code)

    threads = [threading.Thread(target=check) for _ in range(CHECKERS)]
    threads += [threading.Thread(target=misbehave) for _ in range(FLOODERS)]
    for thread in threads:
        thread.start()
    time.sleep(SECONDS)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    assert len(checks) > 20 and len(flood["malformed"]) > 20, (len(checks), flood)
    assert set(checks) == {200}, {code: checks.count(code) for code in set(checks)}
    assert set(flood["malformed"]) == {400}
    assert set(flood["valid"]) <= {200}
    engine = connect(site.settings.database_url)
    try:
        from kokuho.verify import tables as v

        a = v.audit_log.c
        with engine.connect() as connection:
            audited = connection.scalar(
                sa.select(sa.func.count()).where(a.action == "check_number", a.outcome == "1")
            )
            outcomes = set(
                connection.scalars(sa.select(a.outcome).where(a.actor == f"dashboard:{MUNICIPAL}"))
            )
        assert audited == len(checks)  # every answer that reached a clinic has its record
        assert outcomes <= {"downloaded:csv"}  # nothing of the malformed requests is stored
        assert verify_chain(engine).ok
    finally:
        engine.dispose()


def test_a_race_of_parallel_sign_ins_cannot_pass_the_lockout(server: tuple[str, Site]) -> None:
    url, site = server
    wrong = 11
    start = threading.Barrier(wrong)
    answers: list[tuple[str, int]] = []

    def attempt(password: str, barrier: threading.Barrier | None) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            form = client.get("/login")  # the CSRF cookie and token first
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            fields = {"csrf_token": token.group(1), "username": PREFECTURE, "password": password}
            if barrier is not None:
                barrier.wait()
            status = client.post("/login", data=fields, follow_redirects=False).status_code
        answers.append((password, status))

    threads = [
        threading.Thread(target=attempt, args=("wrong password", start)) for _ in range(wrong)
    ]
    for thread in threads:
        thread.start()
    # The right password last: once the database shows the account locked by the wrong ones
    # (a fixed sleep let it overtake them on a loaded machine, where signing in is then right).
    # That at most five passwords are checked in the race is asserted in
    # test_dashboard_accounts.py; here the lock must hold against the right password.
    deadline = time.monotonic() + 60
    while _lock_state(site)[0] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    last = threading.Thread(target=attempt, args=(PASSWORD, None))
    last.start()
    for thread in [*threads, last]:
        thread.join(timeout=120)
    assert sorted(status for _, status in answers) == [401] * (wrong + 1)
    locked_until, failed_logins = _lock_state(site)
    assert locked_until is not None and failed_logins < MAX_FAILURES


def _lock_state(site: Site) -> tuple[object, int]:
    engine = connect(site.settings.database_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                sa.select(t.dashboard_users.c.locked_until, t.dashboard_users.c.failed_logins)
                .where(t.dashboard_users.c.username == PREFECTURE)
            ).one()  # fmt: skip
    finally:
        engine.dispose()
    return row.locked_until, row.failed_logins
