"""What the staff workflows' commands (boundary, provision, premiums collection) read and
record alike: dates and 全国地方公共団体コード from options, and the audit hook that puts each
step on the service's hash-chained audit log as ``cli:<login>``."""

from __future__ import annotations

import datetime as dt
import getpass
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import click

from kokuho.cli._output import fail
from kokuho.cli._params import day_outside
from kokuho.ids import iso_date

_MUNICIPALITY = re.compile(r"[0-9]{6}")
_NOT_ASCII = re.compile(r"[^!-~]")


def option_day(
    value: str | None, option: str, *, bounded: bool = True, done: bool = False
) -> dt.date:
    """The date given to ``option`` (today when not given); a bad one fails naming it, and so
    does one outside 1900–2100 unless not ``bounded`` (a value the domain bounds itself, with
    its own reason: a data-provision period), and one after today when it is the day of
    something ``done`` (a decision recorded, money paid: a mistyped 2033 for 2023 was recorded
    and ordered every later decision after it)."""
    if value is None:
        return dt.date.today()
    # A malformed option is a usage error (exit 2, as the options Click reads: README).
    try:
        day = iso_date(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date YYYY-MM-DD", param_hint=f"'{option}'"
        ) from None
    problem = day_outside(day) if bounded else None
    today = dt.date.today()
    if problem is None and done and day > today:
        problem = (
            f"{day.isoformat()} is after today ({today.isoformat()}): a decision or a "
            "payment is recorded on or after its day"
        )
    if problem is not None:
        raise click.BadParameter(problem, param_hint=f"'{option}'")
    return day


def staff_by(value: str) -> str:
    """The staff member a ``--by`` names: 1–100 characters (it goes into the step and the
    audit record, whose detail is bounded), no control character nor bidi control
    (``has_control``: a line break or an ESC would reach the recorded step and the terminal as
    it is, an RLO make the name read otherwise)."""
    from kokuho.store import has_control  # here: `kokuho --help` imports no SQLAlchemy

    if not value.strip() or len(value) > 100 or has_control(value):
        fail(
            "--by: the staff member recording this (1–100 characters without control "
            "characters or bidi controls)"
        )
    return value.strip()


def municipality_code(value: str) -> str:
    """A 6-digit 全国地方公共団体コード given to ``--municipality``."""
    if not _MUNICIPALITY.fullmatch(value):
        fail(f"--municipality: {value!r} is not a 6-digit 全国地方公共団体コード")
    return value


def require_municipality(engine: Any, code: str) -> None:
    """Fails (exit 1) unless ``code`` is the 全国地方公共団体コード of a 市町村国保 of the register:
    a code no municipality has (a typo, or the 保険者番号 given for it) listed nothing and read
    as "no case". The refusal names the code of an insurer number given in its place."""
    import sqlalchemy as sa

    from kokuho.registry import tables

    i = tables.insurers.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(i.insurer_number, i.name, i.municipality_code).where(
                i.kind == "kokuho_municipal",
                sa.or_(i.municipality_code == code, i.insurer_number == code),
            )
        ).all()
    if any(row.municipality_code == code for row in rows):
        return
    named = next((row for row in rows if row.insurer_number == code), None)
    hint = (
        f"{code} is the 保険者番号 of {named.name}: its code is {named.municipality_code}"
        if named is not None
        else "not the 全国地方公共団体コード of a 市町村国保 of the register"
    )
    fail(f"--municipality: {code}: {hint}")


class StaffAudit:
    """A workflow's audit hook on the service's audit log: one record per person (one without
    a person when none), as ``cli:<login>`` with the staff member's name in the detail."""

    #: The records' outcome (a room says what its steps are: "ok", "shown" …).
    outcome: ClassVar[str] = "ok"

    def __init__(self, engine: Any) -> None:
        # Imported here: the commands' help must not load the service.
        from kokuho.verify import AuditWriter

        self.writer = AuditWriter(engine)
        self.actor = ("cli:" + _NOT_ASCII.sub("_", getpass.getuser()))[:40]

    def __call__(
        self, action: str, actor: str, person_ids: Sequence[int], detail: Mapping[str, Any]
    ) -> None:
        from kokuho.verify import AuditRecord

        records = [
            AuditRecord(self.actor, "insurer", action, self.outcome, person_id=pid,
                        detail={**detail, "by": actor})
            for pid in ([*person_ids] if person_ids else [None])
        ]  # fmt: skip
        self.writer.write_many(records)

    def close(self) -> None:
        self.writer.close()


class ShownAudit(StaffAudit):
    """A read of persons' data shown to staff (``read_member``, outcome ``shown``)."""

    outcome = "shown"
