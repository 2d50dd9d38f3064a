"""A step that outlives its reservation (LEASE) while another run takes the case over: the
run that took it over does its step, the late one is refused at its next write, naming the
case and who took it over, and nothing of it is kept (no reassessment, refund, register loss,
feed file or step). SQLite and PostgreSQL.

The late run is held inside its audit hook, which a step calls once it has reserved the case
and before its first write; the passing of the lease is its reservation's ``busy_since`` moved
back past LEASE, which is all the clock means to a reservation. Before the fence the late
run's reassessments, refunds and register import landed after the other run's step, and only
the step itself was refused.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.boundary import (
    Case,
    CaseError,
    Evidence,
    LeaseLost,
    answer_report,
    claim_refund,
    close_case,
    decide,
    judge,
    open_cases,
    record_loss,
    report_candidates,
    request_report,
    tables,
)
from kokuho.ids import InsuredId
from kokuho.registry import show
from kokuho.store import write_transaction
from tests import boundarycases as bc
from tests.boundarycases import Audit
from tests.feedfiles import KOKUHO
from tests.test_boundary_races import DAY, Held, outcome, premiums, steps
from tests.test_boundary_reports import build_report_town

LEASE_PASSED = dt.timedelta(minutes=31)


class Run:
    """A step run in its own thread, held in its first audit call until :meth:`release`."""

    def __init__(self, step: Callable[[Audit], Any]) -> None:
        self.held = Held()
        self.results: list[Any] = []
        self.thread = threading.Thread(target=lambda: self.results.append(outcome(step, self.held)))
        self.thread.start()
        assert self.held.entered.wait(60), "the run never reserved the case"

    def release(self) -> Any:
        """Lets the run go on; what it returned or raised."""
        self.held.go.set()
        self.thread.join(60)
        assert not self.thread.is_alive()
        return self.results[0]


def lease_passes(engine: sa.Engine, case_id: int, table: sa.Table = tables.boundary_cases) -> None:
    """The clock passes the reservation of case (or request) ``case_id``: taken LEASE_PASSED
    earlier than it was."""
    key = table.c[table.primary_key.columns.keys()[0]]
    with engine.begin() as connection:
        since = connection.scalar(sa.select(table.c.busy_since).where(key == case_id))
        assert since is not None, "not reserved"
        connection.execute(
            sa.update(table).where(key == case_id).values(busy_since=since - LEASE_PASSED)
        )


def reservation(engine: sa.Engine, case_id: int) -> tuple[Any, ...]:
    c = tables.boundary_cases.c
    with engine.connect() as connection:
        return tuple(
            connection.execute(
                sa.select(c.busy_step, c.busy_by, c.busy_token).where(c.case_id == case_id)
            ).one()
        )


def judged_case(engine: sa.Engine, tmp_path: Path, mynumber_key: bytes) -> Case:
    """The worked case after ① and a no-fault ②: ready for ③."""
    case = opened_case(engine, tmp_path, mynumber_key)
    record_loss(engine, case.case_id, dt.date(2023, 5, 1), tmp_path / "feed", actor="a",
                audit=Audit())  # fmt: skip
    document = Evidence("資格決定通知書", bc.EMPLOYEE_ACQUIRED, bc.EMPLOYEE_DECIDED, "日本年金機構")
    return judge(engine, case.case_id, dt.date(2023, 5, 10), no_fault=True, evidence=document,
                 actor="a", audit=Audit())  # fmt: skip


def opened_case(engine: sa.Engine, tmp_path: Path, mynumber_key: bytes) -> Case:
    bc.build_town(engine, tmp_path, mynumber_key)
    bc.enrol_employee(engine, tmp_path)
    [case] = open_cases(engine, bc.TOWN, dt.date(2023, 5, 1), actor="a", audit=Audit())
    return case


def reduce_by(engine: sa.Engine, case_id: int, actor: str) -> Callable[[Audit], Any]:
    return lambda audit: decide(engine, case_id, DAY, actor=actor, audit=audit)


def close_by(engine: sa.Engine, case_id: int, actor: str) -> Callable[[Audit], Any]:
    return lambda audit: close_case(engine, case_id, DAY, "被用者保険の資格取消", actor=actor,
                                    audit=audit)  # fmt: skip


def test_a_late_reduction_after_a_takeover_writes_nothing(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """③ outlives its lease, 終結係 takes the case over and closes it; the late ③ would have
    reduced the three years and settled the refund beside the 終結."""
    case = judged_case(engine, tmp_path, mynumber_key)
    before = premiums(engine)
    late = Run(reduce_by(engine, case.case_id, "減額係"))
    lease_passes(engine, case.case_id)

    closed = close_by(engine, case.case_id, "終結係")(Audit())
    refused = late.release()

    assert closed.status == "closed"
    assert steps(engine) == ["loss", "judgement", "close"]
    assert premiums(engine) == before  # no 減額賦課, no 充当 or 還付
    assert reservation(engine, case.case_id) == (None, None, None)
    assert isinstance(refused, LeaseLost) and isinstance(refused, CaseError)
    message = str(refused)
    assert message.startswith(
        f"lease lost: case {case.case_id} was taken over by 終結係, who recorded its close; "
        "nothing written"
    ), message
    assert "30-minute lease" in message and "before the takeover" not in message


def test_a_late_loss_after_a_takeover_leaves_the_register_and_the_feed_alone(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """① outlives its lease and the case is closed meanwhile: the late ① would have imported
    the 資格喪失 into the register and reassessed FY2021–2022 after the 終結."""
    case = opened_case(engine, tmp_path, mynumber_key)
    before = premiums(engine)
    feed = tmp_path / "late-feed"
    late = Run(lambda audit: record_loss(engine, case.case_id, dt.date(2023, 5, 1), feed,
                                         actor="喪失係", audit=audit))  # fmt: skip
    lease_passes(engine, case.case_id)

    close_by(engine, case.case_id, "終結係")(Audit())
    refused = late.release()

    assert steps(engine) == ["close"]
    record = show(engine, InsuredId(KOKUHO, "12", "1001", "01"))
    assert record is not None
    [kokuho] = [c for c in record.coverages if c.insured.insurer == KOKUHO]
    assert kokuho.lost_on is None
    assert premiums(engine) == before
    assert list(feed.iterdir()) == []  # the loss file that reached nothing is gone
    assert isinstance(refused, LeaseLost), refused
    assert f"case {case.case_id} was taken over by 終結係" in str(refused)


def test_the_run_that_took_over_goes_on_while_the_late_one_is_refused(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """Both runs are ③: the late one comes back while the other still holds the case, is
    refused naming it, and the other then decides the case as usual (the worked case's
    1,047,300円 refund, once)."""
    case = judged_case(engine, tmp_path, mynumber_key)
    late = Run(reduce_by(engine, case.case_id, "減額係A"))
    lease_passes(engine, case.case_id)
    taker = Run(reduce_by(engine, case.case_id, "減額係B"))

    refused = late.release()
    decided = taker.release()

    assert not isinstance(decided, Exception), decided
    assert decided.status == "decided"
    reduction = decided.current("reduction")
    assert reduction is not None and reduction.recorded_by == "減額係B"
    assert reduction.detail["refund"] == 1_047_300
    assert steps(engine) == ["loss", "judgement", "reduction"]
    _, settled = premiums(engine)
    assert sum(s.amount for s in settled if s.kind == "refund") == 1_047_300
    assert isinstance(refused, LeaseLost), refused
    assert (
        f"lease lost: case {case.case_id} was taken over by 減額係B (its reduction, since "
        in str(refused)
    )


def test_a_step_past_its_lease_that_nobody_took_over_finishes(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """The lease only lets another run in: a slow ③ nobody took over is recorded as always,
    and the case is free afterwards."""
    case = judged_case(engine, tmp_path, mynumber_key)
    slow = Run(reduce_by(engine, case.case_id, "減額係"))
    lease_passes(engine, case.case_id)

    decided = slow.release()

    assert not isinstance(decided, Exception), decided
    assert decided.status == "decided"
    assert decided.current("reduction").detail["refund"] == 1_047_300  # type: ignore[union-attr]
    assert reservation(engine, case.case_id) == (None, None, None)
    claimed = claim_refund(engine, case.case_id, dt.date(2023, 6, 1), actor="還付係", audit=Audit())
    assert claimed.current("refund_claim").detail["amount"] == 1_047_300  # type: ignore[union-attr]


def test_a_late_confirmed_answer_after_a_takeover_opens_nothing(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """A confirmed answer to a 報告徴収 request outlives its lease and a denied answer is
    recorded meanwhile: the late one would have opened a case and imported its ① loss beside
    the denial."""
    town = build_report_town(engine, tmp_path, mynumber_key)
    p, _ = report_candidates(town, bc.TOWN, dt.date(2023, 5, 1), actor="a", audit=Audit())
    asked = request_report(town, bc.TOWN, p.kokuho_coverage_id, p.other_coverage_id, "事業主",
                           dt.date(2023, 5, 2), actor="a", audit=Audit())  # fmt: skip
    before = premiums(town)
    feed = tmp_path / "late-feed"

    def answer(confirmed: bool, actor: str) -> Callable[[Audit], Any]:
        return lambda audit: answer_report(
            town, asked.report_id, dt.date(2023, 5, 20), "回答", confirmed=confirmed,
            feed_dir=feed, actor=actor, audit=audit,
        )  # fmt: skip

    late = Run(answer(True, "確認係"))
    lease_passes(town, asked.report_id, tables.boundary_reports)
    denied = answer(False, "否認係")(Audit())
    refused = late.release()

    assert [a.result for a in denied.answers] == ["denied"]
    with town.connect() as connection:
        cases = connection.scalar(sa.select(sa.func.count()).select_from(tables.boundary_cases))
    assert cases == 0 and steps(town) == []
    record = show(town, InsuredId(KOKUHO, "12", "1001", "01"))
    assert record is not None
    [kokuho] = [c for c in record.coverages if c.insured.insurer == KOKUHO]
    assert kokuho.lost_on is None
    assert premiums(town) == before
    assert not feed.exists() or list(feed.iterdir()) == []
    assert isinstance(refused, LeaseLost), refused
    assert str(refused).startswith(
        f"lease lost: request {asked.report_id} was taken over by 否認係, who recorded its "
        "answer (denied); nothing written"
    ), refused


def test_what_a_late_step_wrote_before_the_takeover_stays_and_is_counted(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """③ reassesses its three years, then waits (here: for the refunds' write lock) past its
    lease while the case is taken over and closed: its settlement is refused, and the message
    says that the three reassessments it committed while the case was its own stay (a step is
    several transactions; docs/boundary.md). PostgreSQL: SQLite has one write lock for all."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite cannot hold back the refunds' write alone")
    case = judged_case(engine, tmp_path, mynumber_key)
    with write_transaction(engine, "premium_refunds"):  # decide_refunds waits for this
        late = Run(reduce_by(engine, case.case_id, "減額係"))
        late.held.go.set()
        deadline = time.monotonic() + 60
        while any(charged for _, (charged, _) in premiums(engine)[0]):  # all reduced to 0
            assert time.monotonic() < deadline, "the three years were never reassessed"
            time.sleep(0.05)
        # ① may have reduced a year already, so the values alone do not say that ③ is done
        # with its three years: wait until it waits for the refunds' lock this test holds
        # (on a loaded machine the takeover otherwise came before its third write).
        _waiting_for_advisory_locks(engine, 1)
        lease_passes(engine, case.case_id)
        close_by(engine, case.case_id, "終結係")(Audit())
    refused = late.release()

    assert isinstance(refused, LeaseLost), refused
    assert f"case {case.case_id} was taken over by 終結係, who recorded its close" in str(refused)
    assert "the 3 write(s) it made before the takeover stay" in str(refused)
    assert steps(engine) == ["loss", "judgement", "close"]
    assert premiums(engine)[1] == ()  # no 充当 or 還付 after the 終結


def _waiting_for_advisory_locks(engine: sa.Engine, runs: int, key: int | None = None) -> None:
    """Until ``runs`` sessions wait for an advisory lock (``key``: that one only)."""
    deadline = time.monotonic() + 60
    query = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        + ("" if key is None else " AND objid = :key")
    )
    while True:
        with engine.connect() as connection:
            if (connection.scalar(query, {} if key is None else {"key": key}) or 0) >= runs:
                return
        assert time.monotonic() < deadline, "the runs never came to wait for the lock"
        time.sleep(0.05)


def _waiting_for_the_register(engine: sa.Engine, runs: int) -> None:
    """Until ``runs`` sessions wait for the register importer's lock (registry._feed.lock)."""
    from kokuho.registry._feed import _ADVISORY_LOCK

    _waiting_for_advisory_locks(engine, runs, _ADVISORY_LOCK)


def test_a_late_loss_leaves_the_feed_file_of_the_run_that_took_over(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """Two ① of one case wait for the register's importer (another import holds it) past the
    first one's lease, and the second takes the case over: both wrote the same feed file, the
    first before the second. The late one is refused at its import, but the file is the one
    the other's recorded loss names: it stays. PostgreSQL: SQLite has one write lock for all."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite cannot hold back the register's import alone")
    from kokuho.registry._feed import lock

    case = opened_case(engine, tmp_path, mynumber_key)
    feed = tmp_path / "feed"

    def loss(actor: str) -> Callable[[Audit], Any]:
        return lambda audit: record_loss(engine, case.case_id, dt.date(2023, 5, 1), feed,
                                         actor=actor, audit=audit)  # fmt: skip

    with engine.begin() as importer:
        lock(importer)
        late = Run(loss("喪失係A"))
        late.held.go.set()
        _waiting_for_the_register(engine, 1)
        lease_passes(engine, case.case_id)
        taker = Run(loss("喪失係B"))
        taker.held.go.set()
        _waiting_for_the_register(engine, 2)
    refused, taken = late.release(), taker.release()

    assert isinstance(refused, LeaseLost), refused
    assert not isinstance(taken, Exception), taken
    recorded = taken.current("loss")
    assert recorded is not None and recorded.recorded_by == "喪失係B"
    assert (feed / recorded.detail["feed_file"]).is_file()
