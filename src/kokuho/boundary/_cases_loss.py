"""① 資格喪失 of a double-payment case: the 国保 loss dated the employee 資格取得日, written as
a change-feed file in the register's own format and imported (docs/formats.md §2), so the
register says it too, and the ordinary 更正 of the years still within the §110-2(1) limit
(fault or not). The other steps are in _cases_steps.py."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.boundary._cases_model import Case, CaseAudit, CaseError, LeaseLost
from kokuho.boundary._cases_record import (
    CASES_LOCK,
    check_actor,
    open_case,
    record_step,
    reserve_case,
)
from kokuho.boundary._cases_reserve import Reservation, fence
from kokuho.boundary._cases_tables import boundary_case_steps, boundary_cases
from kokuho.premiums import PremiumRuleError, reassess
from kokuho.registry import FileRejected, import_changes
from kokuho.registry import tables as register
from kokuho.store import WriteBusy, write_transaction

FEED_COLUMNS = (
    "event_id", "event", "effective_date", "insurer_number", "symbol", "number", "branch",
    "loss_reason",
)  # fmt: skip
#: 喪失事由 03 他保険加入 (docs/formats.md §2).
OTHER_INSURANCE = "03"


def record_loss(
    engine: sa.Engine,
    case_id: int,
    decided_on: dt.date,
    feed_dir: Path,
    *,
    actor: str,
    audit: CaseAudit,
) -> Case:
    """① 資格喪失 of the 国保 coverage on the employee 資格取得日 (reason 03 他保険加入): a
    change-feed file in ``feed_dir`` imported into the register, then the step. Recording it
    again changes nothing (the feed event is the case's own id, the step exists)."""
    return loss_within(engine, case_id, decided_on, feed_dir, None, actor=actor, audit=audit)


def loss_within(
    engine: sa.Engine,
    case_id: int,
    decided_on: dt.date,
    feed_dir: Path,
    within: Reservation | None,
    *,
    actor: str,
    audit: CaseAudit,
) -> Case:
    """:func:`record_loss`, the case reserved within ``within`` (a confirmed 報告徴収 answer's
    request): every write checks that one too."""
    check_actor(actor)
    case = open_case(engine, case_id)
    if case.current("loss") is not None:
        return case
    c = register.coverages.c
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(c.insurer_number, c.symbol, c.number, c.branch, c.lost_on).where(
                c.coverage_id == case.kokuho_coverage_id
            )
        ).one()
    path = feed_dir / f"boundary-case-{case_id}-loss.csv"
    _check_feed_target(case_id, path)
    with reserve_case(case, engine, "loss", actor, within) as reservation:
        audit("boundary_loss", actor, [case.person_id], {"case_id": case_id})
        loss_day = case.overlap_from
        feed_dir.mkdir(parents=True, exist_ok=True)
        values = [f"boundary-{case_id}-loss", "lose", loss_day.isoformat(), row.insurer_number,
                  row.symbol, row.number, row.branch, OTHER_INSURANCE]  # fmt: skip
        existed = path.exists()
        path.write_text(",".join(FEED_COLUMNS) + "\r\n" + ",".join(values) + "\r\n", "utf-8")
        try:
            import_changes(engine, path, fence=fence(reservation))
        except FileRejected as error:
            raise CaseError(f"case {case_id}: the register refused the loss: {error}") from None
        except LeaseLost:
            if not existed:
                _drop_unimported(engine, reservation, path)
            raise
        detail = {
            "lost_on": loss_day.isoformat(),
            "feed_file": path.name,
            "previous_lost_on": row.lost_on.isoformat() if row.lost_on else None,
            "reassessed": _ordinary_reductions(engine, case, reservation, decided_on),
        }
        return record_step(engine, case, reservation, "loss", decided_on, actor, detail)


def _check_feed_target(case_id: int, path: Path) -> None:
    """Refuses, before the step, a feed file path that is not a plain file or nothing: the
    rows are written with ``write_text``, which writes through a symbolic link (overwriting
    its target), blocks on a named pipe and fails on a folder (an internal error)."""
    if path.is_symlink():
        why = "is a symbolic link (the rows would be written through it)"
    elif path.exists() and not path.is_file():
        why = "is a folder, a pipe or a device"
    else:
        return
    raise CaseError(
        f"case {case_id}: the loss's feed file {path} {why}; nothing was changed: move it "
        "away and record the step again"
    )


def _drop_unimported(engine: sa.Engine, reservation: Reservation, path: Path) -> None:
    """Removes the feed file of a ① refused at its import (LeaseLost): a loss that never
    reached the register must not be imported later from the feed folder. Unless the run that
    took the case over uses it: that run wrote the same file (same name, same rows) after this
    one and imports it or has recorded its loss naming it. Decided under the steps' write lock,
    which a takeover takes to reserve the case, so no run comes between the look and the
    removal; a lock that cannot be had keeps the file (the safe side)."""
    c, s = boundary_cases.c, boundary_case_steps.c
    case_id = reservation.target.row_id
    with (
        contextlib.suppress(sa.exc.SQLAlchemyError, WriteBusy),
        write_transaction(engine, CASES_LOCK) as connection,
    ):
        holder = connection.scalar(sa.select(c.busy_token).where(c.case_id == case_id))
        recorded = connection.scalar(
            sa.select(sa.func.count()).where(s.case_id == case_id, s.step == "loss")
        )
        if holder in (None, reservation.token) and not recorded:
            path.unlink(missing_ok=True)


def _ordinary_reductions(
    engine: sa.Engine, case: Case, reservation: Reservation, decided_on: dt.date
) -> list[Any]:
    """The 資格喪失処理's ordinary 更正 (§110-2(1) still open): the years within the limit are
    reassessed with the loss at once, whoever was at fault. A year refused here (a decision
    already made that day) is left to ③, which reassesses it again."""
    done: list[Any] = []
    for year in case.years:
        if year.barred(decided_on):
            continue
        try:
            run = reassess(engine, case.municipality, year.fiscal_year, decided_on,
                           household_id=year.household_id, fence=fence(reservation))  # fmt: skip
        except PremiumRuleError as error:
            done.append({"fiscal_year": year.fiscal_year, "refused": str(error)})
            continue
        for change in run.changes:
            done.append({"fiscal_year": year.fiscal_year, "before": change.previous_total,
                         "after": change.total})  # fmt: skip
        for refused in run.refused:
            done.append({"fiscal_year": year.fiscal_year, "refused": refused.reason})
    return done
