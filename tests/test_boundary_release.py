"""Releasing a reservation a killed run left (予約の解除) instead of waiting out its lease:
the next run goes on at once, the release is audited with whose reservation it was, and a run
that was in fact alive stops at its next write having written nothing more. Releasing what
holds no reservation changes nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.boundary import (
    CaseError,
    LeaseLost,
    UnknownCase,
    answer_report,
    release_case,
    release_request,
    report_candidates,
    request_report,
    tables,
)
from tests import boundarycases as bc
from tests.boundarycases import Audit
from tests.test_boundary_lease import (
    Run,
    close_by,
    judged_case,
    reduce_by,
    reservation,
)
from tests.test_boundary_races import premiums, steps
from tests.test_boundary_reports import build_report_town


class Recorded(Audit):
    """Keeps each call's detail too."""

    def __init__(self) -> None:
        super().__init__()
        self.details: list[dict[str, Any]] = []

    def __call__(self, action: str, actor: str, person_ids: Any, detail: Any) -> None:
        super().__call__(action, actor, person_ids, detail)
        self.details.append(dict(detail))


def test_a_released_case_is_taken_at_once_and_the_old_run_writes_nothing(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """③ is held after reserving (as a run killed there would be): within its lease a close is
    refused; after the release it goes through, and the held ③ stops at its first write."""
    case = judged_case(engine, tmp_path, mynumber_key)
    before = premiums(engine)
    stuck = Run(reduce_by(engine, case.case_id, "減額係"))
    with pytest.raises(CaseError, match="another run is recording its reduction"):
        close_by(engine, case.case_id, "終結係")(Audit())

    audit = Recorded()
    released = release_case(engine, case.case_id, actor="係長", reason="端末が停止した",
                            audit=audit)  # fmt: skip
    assert (released.name, released.step, released.held_by) == (
        f"case {case.case_id}",
        "reduction",
        "減額係",
    )
    assert released.lease_ends - released.since == dt.timedelta(minutes=30)
    assert reservation(engine, case.case_id) == (None, None, None)
    assert audit.calls == [("boundary_release", "係長", [case.person_id])]
    assert (
        audit.details[0]["held_by"] == "減額係" and audit.details[0]["reason"] == "端末が停止した"
    )

    closed = close_by(engine, case.case_id, "終結係")(Audit())  # no 30-minute wait
    assert closed.status == "closed"
    late = stuck.release()
    assert isinstance(late, LeaseLost), late
    assert steps(engine) == ["loss", "judgement", "close"]
    assert premiums(engine) == before  # the released ③ reduced and refunded nothing


def test_releasing_what_holds_no_reservation_changes_nothing(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    case = judged_case(engine, tmp_path, mynumber_key)
    audit = Audit()
    with pytest.raises(CaseError, match=f"case {case.case_id} is not reserved by any run"):
        release_case(engine, case.case_id, actor="係長", reason="確認", audit=audit)
    with pytest.raises(UnknownCase):
        release_case(engine, case.case_id + 1000, actor="係長", reason="確認", audit=audit)
    with pytest.raises(CaseError, match="needs a reason"):
        release_case(engine, case.case_id, actor="係長", reason="  ", audit=audit)
    with pytest.raises(CaseError):
        release_case(engine, case.case_id, actor="係長", reason="a\x00b", audit=audit)
    with pytest.raises(CaseError, match="must be named"):
        release_case(engine, case.case_id, actor="", reason="確認", audit=audit)
    assert audit.calls == []
    with pytest.raises(CaseError, match="no 報告徴収 request 99"):
        release_request(engine, 99, actor="係長", reason="確認", audit=audit)


def test_a_released_answer_lets_the_other_answer_in(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """A confirmed answer held after reserving its request: released, a denied answer is
    recorded at once and the held one opens no case."""
    town = build_report_town(engine, tmp_path, mynumber_key)
    p, _ = report_candidates(town, bc.TOWN, dt.date(2023, 5, 1), actor="a", audit=Audit())
    asked = request_report(town, bc.TOWN, p.kokuho_coverage_id, p.other_coverage_id, "事業主",
                           dt.date(2023, 5, 2), actor="a", audit=Audit())  # fmt: skip

    def answer(confirmed: bool, actor: str) -> Callable[[Audit], Any]:
        return lambda audit: answer_report(
            town, asked.report_id, dt.date(2023, 5, 20), "回答", confirmed=confirmed,
            feed_dir=tmp_path / "feed", actor=actor, audit=audit,
        )  # fmt: skip

    stuck = Run(answer(True, "確認係"))
    released = release_request(town, asked.report_id, actor="係長", reason="強制終了",
                               audit=Audit())  # fmt: skip
    assert (released.name, released.step, released.held_by) == (
        f"request {asked.report_id}",
        "confirmed",
        "確認係",
    )
    denied = answer(False, "否認係")(Audit())
    assert [a.result for a in denied.answers] == ["denied"]
    assert isinstance(stuck.release(), LeaseLost)
    with town.connect() as connection:
        cases = connection.scalar(sa.select(sa.func.count()).select_from(tables.boundary_cases))
    assert cases == 0


def test_a_reservation_taken_over_while_the_release_is_audited_is_left_alone(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    """The release clears only the reservation it read: one that another run took meanwhile
    (between the audit record of the request and the release) is alive and stays."""
    case = judged_case(engine, tmp_path, mynumber_key)
    stuck = Run(reduce_by(engine, case.case_id, "減額係"))
    c = tables.boundary_cases.c

    class TakeOver(Audit):
        def __call__(self, action: str, actor: str, person_ids: Any, detail: Any) -> None:
            super().__call__(action, actor, person_ids, detail)
            with engine.begin() as connection:  # another run's takeover, just now
                connection.execute(
                    sa.update(tables.boundary_cases)
                    .where(c.case_id == case.case_id)
                    .values(busy_by="終結係", busy_token="e" * 32)
                )

    audit = TakeOver()
    with pytest.raises(CaseError, match=f"case {case.case_id} changed meanwhile"):
        release_case(engine, case.case_id, actor="係長", reason="停止", audit=audit)
    assert audit.calls == [("boundary_release", "係長", [case.person_id])]
    assert reservation(engine, case.case_id)[1:] == ("終結係", "e" * 32)
    assert isinstance(stuck.release(), LeaseLost)
