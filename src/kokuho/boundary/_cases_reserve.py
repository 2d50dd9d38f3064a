"""A step of a case (or the answer to a 報告徴収 request) is reserved before it changes
anything, so that of two runs at the same moment only one does its work.

A step's work is not one transaction: ① imports a change-feed file into the register and
reassesses the household, ③ reassesses and settles refunds, a confirmed answer opens a case
and records its ①. Checking only when the step itself was written let the run that was then
refused keep all of that beside the other run's step (a 減額賦課 beside a 終結, a 資格喪失
beside a denied answer). Now the run first sets the row's ``busy_*`` columns under the write
lock, a conditional update that only one run can win, and only the winner goes on; the other
is refused at once, naming the case or request and the step the winner took, and has changed
nothing. The transaction that records the step clears the reservation (:func:`finish`); a run
that fails before it clears it itself (:func:`reserved`).

A run killed between the two leaves its reservation: after :data:`LEASE` another run may take
it over (the message says until when). The killed run's work may then be half done, as it was
before reservations.

A run that was only slow, not killed, must not finish after such a takeover: its late writes
landed after the other run's (a 減額賦課 after a 終結). So the reservation is a fence: every
write of the work (the register's import, each reassessment, the refunds, the step itself)
runs :func:`hold` first in its own transaction (:func:`fence`, kokuho.store.Fence), which
commits only while the row is still reserved with this run's token; otherwise that write is
rolled back and the run stops with :class:`LeaseLost`, naming who took the row over. The run
that took it over goes on as if the first had died.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa

from kokuho.boundary._cases_model import CaseError, LeaseLost
from kokuho.store import Fence, WriteBusy, stored_utc, write_transaction

#: How long a reservation holds against other runs; longer than any step's work takes.
LEASE: Final = dt.timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Target:
    """The row ``key == row_id`` of ``table``, reserved and written under the write lock
    ``lock``, and how a refusal names it and the work held (``in_progress``: a format with
    ``{step}``, e.g. ``case 12 changed meanwhile: another run is recording its {step}``)."""

    table: sa.Table
    key: str
    row_id: int
    lock: str
    in_progress: str
    what: str = "step"
    """What the caller is doing: ``step`` of a case, ``answer`` to a request."""
    name: str = ""
    """The row as messages name it: ``case 12``, ``request 3``."""
    done_by: Callable[[sa.Connection], str | None] = lambda _: None
    """Who recorded what on the row since the caller read it (``終結係, who recorded its
    close``): names the run that took the row over once it has finished and let it go."""


@dataclass(slots=True)
class Reservation:
    """What one run holds: ``target`` with its ``token``, taken at ``since``, inside the
    reservation ``within`` (a case a 報告徴収 answer opens: its writes are the answer's too);
    ``written`` counts the fenced writes that passed (a lost lease says whether any did)."""

    target: Target
    token: str
    since: dt.datetime
    within: Reservation | None = None
    written: int = 0


def reserve(
    engine: sa.Engine,
    target: Target,
    step: str,
    actor: str,
    moved_on: Callable[[sa.Connection], str | None],
    within: Reservation | None = None,
) -> Reservation:
    """Reserves ``step`` on ``target`` for ``actor`` (inside ``within``). Refused (CaseError,
    nothing changed) when ``moved_on`` says under the lock that the row moved on since the
    caller read it (its message), or another run holds an unexpired reservation."""
    table = target.table
    column = table.c[target.key]
    now = dt.datetime.now(dt.UTC)
    not_started = f"this {target.what} ({step}) was not started and nothing was changed"
    with write_transaction(engine, target.lock) as connection:
        refusal = moved_on(connection)
        if refusal is not None:
            raise CaseError(f"{refusal}; {not_started}")
        held = connection.execute(
            sa.select(table.c.busy_step, table.c.busy_by, table.c.busy_since, table.c.busy_token)
            .where(column == target.row_id)
        ).one()  # fmt: skip
        if held.busy_token is not None and stored_utc(held.busy_since) + LEASE > now:
            since = stored_utc(held.busy_since)
            raise CaseError(
                target.in_progress.format(step=held.busy_step)
                + f" ({held.busy_by}, since {since:%Y-%m-%d %H:%M:%S} UTC); {not_started}: "
                f"look again once that is done (a run that died holds it until "
                f"{since + LEASE:%H:%M} UTC)"
            )
        token = secrets.token_hex(16)
        won = connection.execute(
            sa.update(table)
            .where(
                column == target.row_id,
                table.c.busy_token.is_(None)
                if held.busy_token is None
                else table.c.busy_token == held.busy_token,
            )
            .values(busy_step=step, busy_by=actor, busy_since=now, busy_token=token)
        ).rowcount
        if won != 1:  # pragma: no cover - the lock lets one run at a time through
            raise CaseError(target.in_progress.format(step="work") + f"; {not_started}")
    return Reservation(target, token, now, within)


def _clear(connection: sa.Connection, reservation: Reservation) -> bool:
    target = reservation.target
    table = target.table
    return (
        connection.execute(
            sa.update(table)
            .where(
                table.c[target.key] == target.row_id,
                table.c.busy_token == reservation.token,
            )
            .values(busy_step=None, busy_by=None, busy_since=None, busy_token=None)
        ).rowcount
        == 1
    )


def _lost(connection: sa.Connection, reservation: Reservation) -> LeaseLost:
    """The refusal of a write whose reservation another run took over: who holds the row now,
    or, once that run has finished, who recorded what on it."""
    target = reservation.target
    table = target.table
    now = connection.execute(
        sa.select(table.c.busy_step, table.c.busy_by, table.c.busy_since)
        .where(table.c[target.key] == target.row_id)
    ).one()  # fmt: skip
    if now.busy_by is not None:
        since = stored_utc(now.busy_since)
        who = f"{now.busy_by} (its {now.busy_step}, since {since:%Y-%m-%d %H:%M:%S} UTC)"
    else:
        who = target.done_by(connection) or "another run, which has let it go again"
    minutes = int(LEASE.total_seconds()) // 60
    earlier = (
        f"; the {reservation.written} write(s) it made before the takeover stay"
        if reservation.written
        else ""
    )
    return LeaseLost(
        f"lease lost: {target.name} was taken over by {who}; nothing written: this run held it "
        f"past the {minutes}-minute lease (from {reservation.since:%Y-%m-%d %H:%M:%S} UTC) "
        f"and stopped at this write{earlier}; what the other run recorded stands"
    )


def hold(connection: sa.Connection, reservation: Reservation) -> None:
    """First in a transaction that writes for the reserved work: LeaseLost (the transaction
    rolls back) unless the row, and the one it was reserved within, are still reserved with
    this run's tokens."""
    if reservation.within is not None:
        hold(connection, reservation.within)
    target = reservation.target
    table = target.table
    # An update, not a read: on PostgreSQL it keeps the row locked until this transaction
    # ends, so a takeover waits for the write, and one committed first leaves nothing to
    # match (a read could pass just before the takeover commits); on SQLite it takes the
    # write lock, so nothing comes between the check and the write.
    kept = connection.execute(
        sa.update(table)
        .where(table.c[target.key] == target.row_id, table.c.busy_token == reservation.token)
        .values(busy_token=reservation.token)
    ).rowcount  # fmt: skip
    if kept != 1:
        raise _lost(connection, reservation)
    reservation.written += 1


def fence(reservation: Reservation) -> Fence:
    """:func:`hold` as the fence another context's write runs in its own transaction."""
    return lambda connection: hold(connection, reservation)


def finish(connection: sa.Connection, reservation: Reservation) -> None:
    """In the transaction that records the step: clears the reservation. LeaseLost (nothing
    recorded) when it is no longer this run's: it outlived :data:`LEASE` and another run took
    the row over (or the one it was reserved within)."""
    if reservation.within is not None:
        hold(connection, reservation.within)
    if not _clear(connection, reservation):
        raise _lost(connection, reservation)


@contextlib.contextmanager
def reserved(
    engine: sa.Engine,
    target: Target,
    step: str,
    actor: str,
    moved_on: Callable[[sa.Connection], str | None],
    within: Reservation | None = None,
) -> Iterator[Reservation]:
    """:func:`reserve`, and on any failure of the body the reservation released again (the
    body's own :func:`finish` has cleared it when it got that far)."""
    reservation = reserve(engine, target, step, actor, moved_on, within)
    try:
        yield reservation
    except BaseException:
        # Not worth hiding the body's error for: an unreleased reservation ends with LEASE.
        with (
            contextlib.suppress(sa.exc.SQLAlchemyError, WriteBusy),
            write_transaction(engine, target.lock) as connection,
        ):
            _clear(connection, reservation)
        raise
