"""One caller's refused or FHIR check must not hold up the other checks a server process is
answering (found by the second faces probe, on PostgreSQL).

A check served on the event loop waits for its audit record without blocking the loop. A
refusal (a purpose that is not insurance business) and the FHIR check wrote their record
through the writer thread and blocked the loop until it was committed. On PostgreSQL the
writer thread then waited for the chain's advisory lock, which the loop's own group commit held
between its two round trips and could not release while the loop was blocked: each such
request stalled the process for the audit timeout (10 s) and then failed, and so did the good
checks of other clinics queued behind it (600 checks with one in ten refused: 262 answered 500
after up to 40 s)."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.test_oqs_agent_files import serving
from tests.test_rest import BODY, _fhir_request


@pytest.fixture
def served_on(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real uvicorn server on each database kind; (URL, token)."""
    with serving(database_url, tmp_path) as served:
        yield served


def _ask(url: str, token: str, kind: str) -> tuple[str, int | str, float]:
    auth = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    try:
        with httpx2.Client(base_url=url, timeout=15) as client:
            if kind == "refused":
                response = client.post(
                    "/api/v1/checks/number", json={**BODY, "purpose": "marketing"}, headers=auth
                )
            elif kind == "fhir":
                response = client.post(
                    "/fhir/CoverageEligibilityRequest", json=_fhir_request(),
                    headers={**auth, "Content-Type": "application/fhir+json"},
                )  # fmt: skip
            else:
                response = client.post("/api/v1/checks/number", json=BODY, headers=auth)
        status: int | str = response.status_code
    except httpx2.HTTPError as error:
        status = type(error).__name__
    return kind, status, time.monotonic() - started


def test_refusals_and_fhir_checks_do_not_stall_the_others(served_on: tuple[str, str]) -> None:
    url, token = served_on
    kinds = ["refused" if i % 6 == 0 else "fhir" if i % 6 == 3 else "good" for i in range(240)]
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda kind: _ask(url, token, kind), kinds))
    expected = {"refused": 403, "fhir": 200, "good": 200}
    wrong = [(kind, status) for kind, status, _ in answers if status != expected[kind]]
    assert not wrong, wrong[:10]
    slowest = max(seconds for _, _, seconds in answers)
    assert slowest < 5, f"a check waited {slowest:.1f} s"
