"""What every step of a double-payment case shares (_cases_steps.py, _cases_loss.py): the
case read open, reserved for the step (_cases_reserve.py) before anything changes, the step
written append-only with the reservation cleared, and the person recording it named."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa

from kokuho.boundary._cases import read_cases
from kokuho.boundary._cases_model import Case, CaseError, StepKind, UnknownCase, check_text, dumps
from kokuho.boundary._cases_reserve import Reservation, Target, finish, reserved
from kokuho.boundary._cases_tables import boundary_case_steps, boundary_cases
from kokuho.store import write_transaction

#: The write lock under which a case is reserved and its steps are written.
CASES_LOCK = "boundary_case_steps"


def open_case(engine: sa.Engine, case_id: int) -> Case:
    """The case as a step starts from; UnknownCase when there is none, CaseError when closed."""
    found = read_cases(engine, None, [case_id])
    if not found:
        raise UnknownCase(f"no double-payment case {case_id}")
    if found[0].status == "closed":
        raise CaseError(f"case {case_id} is closed")
    return found[0]


def _steps_since(connection: sa.Connection, case: Case) -> tuple[bool, tuple[str, str] | None]:
    """Whether the case's steps differ from those ``case`` was read with, and the newest step
    recorded since (its kind and who recorded it; None if none)."""
    c = boundary_case_steps.c
    rows = connection.execute(
        sa.select(c.step_id, c.step, c.recorded_by)
        .where(c.case_id == case.case_id)
        .order_by(c.step_id)
    ).all()  # fmt: skip
    known = {s.step_id for s in case.steps}
    new = [(r.step, r.recorded_by) for r in rows if r.step_id not in known]
    return {r.step_id for r in rows} != known, new[-1] if new else None


def _moved_on(case: Case) -> Callable[[sa.Connection], str | None]:
    """Under the write lock: what was recorded on the case since ``case`` was read."""

    def check(connection: sa.Connection) -> str | None:
        changed, newest = _steps_since(connection, case)
        if not changed:
            return None
        taken = f": its {newest[0]} was recorded by {newest[1]}" if newest else ""
        return f"case {case.case_id} changed meanwhile{taken}"

    return check


def _done_by(case: Case) -> Callable[[sa.Connection], str | None]:
    """Who took the case over, once they have finished: the newest step since ``case``."""

    def who(connection: sa.Connection) -> str | None:
        _, newest = _steps_since(connection, case)
        return f"{newest[1]}, who recorded its {newest[0]}" if newest else None

    return who


def reserve_case(
    case: Case, engine: sa.Engine, step: StepKind, actor: str, within: Reservation | None = None
) -> AbstractContextManager[Reservation]:
    """The case reserved for ``step`` (_cases_reserve.py) before the step changes anything:
    of two runs at once (two clerks, ``reduce`` and ``close``, one command run twice) one
    goes on, the other is refused here having done nothing."""
    target = Target(
        boundary_cases, "case_id", case.case_id, CASES_LOCK,
        f"case {case.case_id} changed meanwhile: another run is recording its {{step}}",
        name=f"case {case.case_id}", done_by=_done_by(case),
    )  # fmt: skip
    return reserved(engine, target, step, actor, _moved_on(case), within)


def record_step(
    engine: sa.Engine,
    case: Case,
    reservation: Reservation,
    step: StepKind,
    decided_on: dt.date,
    actor: str,
    detail: dict[str, Any],
    supersedes: int | None = None,
) -> Case:
    """Writes the step and clears the case's reservation in one transaction; LeaseLost when
    another run took the case over (the reservation is its own, so no step came between)."""
    with write_transaction(engine, CASES_LOCK) as connection:
        finish(connection, reservation)
        connection.execute(
            sa.insert(boundary_case_steps),
            {
                "case_id": case.case_id,
                "step": step,
                "decided_on": decided_on,
                "recorded_at": dt.datetime.now(dt.UTC),
                "recorded_by": actor,
                "supersedes": supersedes,
                "detail": dumps(detail),
            },
        )
    return read_cases(engine, None, [case.case_id])[0]


def check_actor(actor: str) -> None:
    """Refuses a step (or a release) whose recorder is unnamed, too long or not plain text."""
    if not actor.strip() or len(actor) > 100:
        raise CaseError("the person recording a step must be named (1–100 characters)")
    check_text("recorded_by", actor)
