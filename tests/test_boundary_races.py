"""Two runs on one case (or one 報告徴収 request) at the same moment: the run that started
first does its step, the other is refused naming the case and the step under way, and
nothing it would have done is left behind (no premium change, refund, case, loss, feed file
or audit record). SQLite and PostgreSQL.

The first run is held inside its audit hook, which a step calls once it has begun; the second
run is made while it is held. Before the fix the first audit call came after the step's work
(the reassessment and refunds of ③, the case and ① loss of a confirmed answer), and the step
was refused only when it was written, leaving that work beside the other run's step.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.boundary import (
    CaseError,
    Evidence,
    answer_report,
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
from kokuho.premiums import household_account, settlements
from kokuho.registry import show
from tests import boundarycases as bc
from tests.boundarycases import TOWN, Audit
from tests.feedfiles import KOKUHO
from tests.test_boundary_reports import build_report_town

DAY = dt.date(2023, 5, 15)


class Held(Audit):
    """An audit hook that holds the run at its first call until ``go`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.go = threading.Event()

    def __call__(
        self, action: str, actor: str, person_ids: Sequence[int], detail: Mapping[str, Any]
    ) -> None:
        super().__call__(action, actor, person_ids, detail)
        if not self.entered.is_set():
            self.entered.set()
            assert self.go.wait(60)


def outcome(run: Callable[[Audit], Any], audit: Audit) -> Any:
    """What ``run`` returned, or the exception it raised (the test asserts on it)."""
    try:
        return run(audit)
    except Exception as error:  # noqa: BLE001
        return error


def race(first: Callable[[Audit], Any], second: Callable[[Audit], Any]) -> tuple[Any, Any, Audit]:
    """Runs ``first`` in a thread, held in its first audit call, then ``second`` here; lets the
    first go on. Returns the outcome of each, and the second's audit hook."""
    held, audit = Held(), Audit()
    firsts: list[Any] = []
    thread = threading.Thread(target=lambda: firsts.append(outcome(first, held)))
    thread.start()
    try:
        assert held.entered.wait(60), "the first run never began"
        second_outcome = outcome(second, audit)
    finally:
        held.go.set()
        thread.join(60)
    return firsts[0], second_outcome, audit


def steps(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        t = tables.boundary_case_steps
        return list(connection.scalars(sa.select(t.c.step).order_by(t.c.step_id)))


def premiums(engine: sa.Engine) -> tuple[Any, ...]:
    """What ③ changes: the household's 調定・収納 per year and the 過誤納金 settled."""
    account = household_account(engine, TOWN, "W1", DAY)
    return tuple(sorted(account.items())), tuple(settlements(engine, TOWN))


@pytest.mark.parametrize("first_step", ["reduction", "close"])
def test_two_steps_of_one_case_at_once(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes, first_step: str
) -> None:
    """``decide N reduce`` and ``decide N close`` at once: the refused ③ had already reduced
    the years and settled refunds beside the 終結, when ``close`` was written first."""
    bc.build_town(engine, tmp_path, mynumber_key)
    bc.enrol_employee(engine, tmp_path)
    [case] = open_cases(engine, TOWN, dt.date(2023, 5, 1), actor="a", audit=Audit())
    record_loss(engine, case.case_id, dt.date(2023, 5, 1), tmp_path / "feed", actor="a",
                audit=Audit())  # fmt: skip
    document = Evidence("資格決定通知書", bc.EMPLOYEE_ACQUIRED, bc.EMPLOYEE_DECIDED, "日本年金機構")
    judge(engine, case.case_id, dt.date(2023, 5, 10), no_fault=True, evidence=document,
          actor="a", audit=Audit())  # fmt: skip
    before = premiums(engine)

    def reduce(audit: Audit) -> Any:
        return decide(engine, case.case_id, DAY, actor="減額係", audit=audit)

    def close(audit: Audit) -> Any:
        return close_case(engine, case.case_id, DAY, "被用者保険の資格取消", actor="終結係",
                          audit=audit)  # fmt: skip

    runs = {"reduction": reduce, "close": close}
    second_step = "close" if first_step == "reduction" else "reduction"
    first, second, second_audit = race(runs[first_step], runs[second_step])

    assert not isinstance(first, Exception), first
    assert first.status == ("decided" if first_step == "reduction" else "closed")
    assert isinstance(second, CaseError)
    assert f"case {case.case_id} changed meanwhile" in str(second)
    assert f"another run is recording its {first_step}" in str(second)
    assert "nothing was changed" in str(second)
    assert steps(engine) == ["loss", "judgement", first_step]
    assert second_audit.calls == []  # the refused run touched nobody
    if first_step == "close":  # the refused ③ reduced nothing and settled nothing
        assert premiums(engine) == before
    else:
        assert premiums(engine) != before
    # The case is free again: the next step is refused for what is recorded, not as busy.
    with pytest.raises(CaseError, match="is closed" if first_step == "close" else "already made"):
        reduce(Audit())


@pytest.mark.parametrize("first_result", ["confirmed", "denied"])
def test_a_request_answered_confirmed_and_denied_at_once(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes, first_result: str
) -> None:
    """A confirmed and a denied answer to one request at once: the confirmed run's case, ①
    loss in the register, reassessment and feed file stayed beside the denied answer."""
    town = build_report_town(engine, tmp_path, mynumber_key)
    on = dt.date(2023, 5, 1)
    p, _ = report_candidates(town, TOWN, on, actor="a", audit=Audit())
    asked = request_report(town, TOWN, p.kokuho_coverage_id, p.other_coverage_id, "事業主",
                           dt.date(2023, 5, 2), actor="a", audit=Audit())  # fmt: skip
    before = premiums(town)
    feeds = {"confirmed": tmp_path / "feed-confirmed", "denied": tmp_path / "feed-denied"}

    def answer(result: str) -> Callable[[Audit], Any]:
        return lambda audit: answer_report(
            town, asked.report_id, dt.date(2023, 5, 20), f"回答: {result}",
            confirmed=result == "confirmed", feed_dir=feeds[result], actor=result, audit=audit,
        )  # fmt: skip

    second_result = "denied" if first_result == "confirmed" else "confirmed"
    first, second, second_audit = race(answer(first_result), answer(second_result))

    assert not isinstance(first, Exception), first
    assert [a.result for a in first.answers] == [first_result]
    assert isinstance(second, CaseError)
    assert f"request {asked.report_id} is already answered" in str(second)
    assert f"({first_result})" in str(second) and "nothing was changed" in str(second)
    assert second_audit.calls == []
    record = show(town, InsuredId(KOKUHO, "12", "1001", "01"))
    assert record is not None
    [kokuho] = [c for c in record.coverages if c.insured.insurer == KOKUHO]
    with town.connect() as connection:
        cases = connection.scalar(sa.select(sa.func.count()).select_from(tables.boundary_cases))
    if first_result == "denied":  # the refused confirmed answer left nothing
        assert cases == 0 and steps(town) == []
        assert kokuho.lost_on is None
        assert premiums(town) == before
        assert not feeds["confirmed"].exists() or not any(feeds["confirmed"].iterdir())
    else:
        assert cases == 1 and steps(town) == ["loss"]
        assert kokuho.lost_on == dt.date(2022, 10, 1)
        assert not feeds["denied"].exists()
