"""The bulk pre-check (一括照会) keeps no query in clear, and a job that stops half-way is
reported ``failed`` instead of ``processing`` for ever."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa

from kokuho.store import connect, upgrade
from kokuho.verify._access import Principal
from kokuho.verify._service import EligibilityService
from kokuho.verify._service_bulk import BULK_STALE_AFTER, BulkStatus
from kokuho.verify._tables import bulk_jobs
from tests.test_verify_service import clinic, query, service  # noqa: F401  (the fixture)

MY_NUMBER = "123456789018"  # synthetic, valid 検査用数字


def _finished(checks: EligibilityService, who: Principal, reception: str) -> BulkStatus:
    deadline = time.monotonic() + 10
    while (status := checks.bulk_status(who, reception)).status == "processing":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return status


def test_the_job_row_keeps_the_count_not_the_queries(
    service: EligibilityService,  # noqa: F811
    engine: sa.Engine,
) -> None:
    """A My Number typed as the 番号 reached ``bulk_jobs.queries`` whole, though every audit
    record masks it: the row now keeps how many checks were asked, nothing of what."""
    who = clinic(engine)
    reception = service.submit_bulk(who, [query(number=MY_NUMBER), query(), query()])
    status = _finished(service, who, reception)
    assert (status.status, status.submitted, len(status.answers or [])) == ("complete", 3, 3)
    with engine.connect() as connection:
        row = connection.execute(sa.select(bulk_jobs)).one()
    assert json.loads(row.queries) == 3
    assert MY_NUMBER not in row.queries and MY_NUMBER not in (row.results or "")
    assert "1970-05-15" not in row.queries  # nor the birth dates asked


def test_a_job_whose_checks_fail_is_reported_failed(
    service: EligibilityService,  # noqa: F811
    engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    who = clinic(engine)

    def broken(*_: object) -> object:
        raise sa.exc.OperationalError("select", {}, Exception("database is locked"))

    monkeypatch.setattr(service, "_number_answer", broken)
    reception = service.submit_bulk(who, [query()])
    status = _finished(service, who, reception)
    assert (status.status, status.answers, status.submitted) == ("failed", None, 1)
    assert f"bulk check {reception} failed" in caplog.text
    # The next job of the same worker runs as usual.
    monkeypatch.undo()
    assert _finished(service, who, service.submit_bulk(who, [query()])).status == "complete"


def test_a_job_left_processing_by_a_dead_worker_is_reported_failed(
    service: EligibilityService,  # noqa: F811
    engine: sa.Engine,
) -> None:
    """A row ``processing`` that no worker of this process runs: fresh, it may be another
    worker's (processing); older than BULK_STALE_AFTER, its worker died (failed)."""
    who = clinic(engine)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        ages = {"AAAA0000AAAA0000": dt.timedelta(minutes=5),
                "BBBB0000BBBB0000": BULK_STALE_AFTER + dt.timedelta(minutes=1)}  # fmt: skip
        for reception, age in ages.items():
            connection.execute(
                bulk_jobs.insert().values(
                    reception_number=reception, institution_code=who.institution_code,
                    submitted_at=now - age, status="processing", queries="2",
                )
            )  # fmt: skip
    assert service.bulk_status(who, "AAAA0000AAAA0000").status == "processing"
    stale = service.bulk_status(who, "BBBB0000BBBB0000")
    assert (stale.status, stale.submitted, stale.answers) == ("failed", 2, None)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_migration_0014_forgets_the_queries_of_older_jobs(database_url: str) -> None:
    engine = connect(database_url, migrate=False)
    upgrade(engine, "0013")
    old = [{"insurer": "67370001", "symbol": "12", "number": MY_NUMBER, "branch": "01",
            "birth_date": "1970-05-15", "date_of_care": "2020-12-01",
            "limit_consent": False}]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(
            bulk_jobs.insert().values(
                reception_number="CCCC0000CCCC0000", institution_code="3710112347",
                submitted_at=dt.datetime.now(dt.UTC), status="complete",
                queries=json.dumps(old * 2), results="[]",
            )
        )  # fmt: skip
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.scalar(sa.select(bulk_jobs.c.queries)) == "2"
    upgrade(engine)  # again: nothing left to change
    with engine.connect() as connection:
        assert connection.scalar(sa.select(bulk_jobs.c.queries)) == "2"
    engine.dispose()
