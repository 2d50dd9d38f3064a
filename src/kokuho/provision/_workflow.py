"""The provision workflow's steps on the database: apply, review, the deletion confirmation,
the 公表物確認 verdict, and the bookkeeping of extracts (kokuho.provision._extract builds them).

Each step checks the provision's state (kokuho.provision._workflow_model.ALLOWED), moves it with
an UPDATE guarded by the state it read (two reviewers racing: one wins, the other is refused),
records the step. The audit hook is called after every check and before the first write (a
step whose audit record could not be written is not taken); the checks only read, so the
audit log's own writer is not held up by this transaction (SQLite has one writer).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from kokuho.provision._catalogue import Catalogue
from kokuho.provision._check import ReleaseCheck
from kokuho.provision._keys import destroy_provision_key
from kokuho.provision._roles import appointed_reviewer, deletion_party, reviewer_of
from kokuho.provision._tables import provision_reviewers, provision_steps, provisions
from kokuho.provision._workflow_model import (
    ALLOWED,
    APPLIED,
    DECISIONS,
    DELETED,
    PROVIDED,
    REJECTED,
    REVOKED,
    Application,
    Provision,
    ProvisionAudit,
    ProvisionError,
    Step,
    UnknownProvision,
)
from kokuho.registry import tables as registry
from kokuho.store import BIDI_CONTROLS

_PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県",
    "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県",
    "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県",
    "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県",
    "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip
_ID = re.compile(r"^P[0-9]{6}$")
_DONE = {"review": "reviewed", "extract": "extracted", "delete": "deleted",
         "release_check": "checked for release", "revoke": "revoked"}  # fmt: skip


def _text(value: str, field: str, limit: int = 2000, *, lines: bool = False) -> str:
    """``value`` stripped, not empty, at most ``limit`` characters and free of control
    characters (NUL, ESC: they would reach the terminal and the database as they are) and of
    bidi controls (an RLO makes a name read otherwise on a page than what was recorded); line
    breaks and tabs only where ``lines`` (a purpose, the minutes)."""
    text = value.strip()
    if not text:
        raise ProvisionError(f"{field}: must not be empty")
    if len(text) > limit:
        raise ProvisionError(f"{field}: at most {limit} characters")
    allowed = "\r\n\t" if lines else ""
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in text):
        raise ProvisionError(f"{field}: a control character (NUL, ESC, a line break …)")
    if any(c in BIDI_CONTROLS for c in text):
        raise ProvisionError(f"{field}: a bidi control (U+202E RLO, U+200F RLM …)")
    return text


#: The text check for the extract's ``by`` (kokuho.provision._extract).
text_field = _text


def check_items(
    catalogue: Catalogue, basis: str, items: Mapping[str, Sequence[str]], field: str
) -> dict[str, tuple[str, ...]]:
    """``items`` checked against the closed catalogue and the basis's tables."""
    allowed = catalogue.basis(basis).tables
    if not items:
        raise ProvisionError(f"{field}: no table asked for")
    out: dict[str, tuple[str, ...]] = {}
    for table, names in items.items():
        if table not in catalogue.tables:
            known = ", ".join(sorted(catalogue.tables))
            raise ProvisionError(f"{field}: unknown table {table!r} (catalogue: {known})")
        if table not in allowed:
            raise ProvisionError(f"{field}: table {table!r} is not in the basis {basis}")
        if not names:
            raise ProvisionError(f"{field}: table {table!r} with no item")
        for item in names:
            if item not in catalogue.tables[table]:
                known = ", ".join(catalogue.tables[table])
                raise ProvisionError(f"{field}: unknown item {table}.{item} (items: {known})")
        out[table] = tuple(sorted(set(names)))
    return dict(sorted(out.items()))


def _check_application(
    catalogue: Catalogue, app: Application, on: dt.date
) -> dict[str, tuple[str, ...]]:
    if app.basis not in catalogue.bases:
        known = ", ".join(sorted(catalogue.bases))
        raise ProvisionError(f"basis {app.basis!r}: one of {known}")
    _text(app.applicant, "applicant", 100)
    _text(app.organisation, "organisation", 200)
    _text(app.purpose, "purpose", lines=True)
    _text(app.public_interest, "public interest (相当の公益性)", lines=True)
    place = _text(app.place, "place (利用場所)")
    if not any(name in place for name in _PREFECTURES):
        raise ProvisionError(f"place (利用場所): {place!r} names no 都道府県; it must be in Japan")
    if not app.users or any(not u.strip() or len(u) > 100 for u in app.users):
        raise ProvisionError("users: name every user (1–100 characters each)")
    for user in app.users:
        _text(user, "users", 100)
    check_period(catalogue, app.period_from, app.period_to, on)
    return check_items(catalogue, app.basis, app.requested, "requested")


def check_provider(
    connection: sa.Connection, catalogue: Catalogue, basis: str, provider: str | None
) -> None:
    """The providing insurer of a statutory request: named, in the register, and of a kind
    the basis provides from (a 市町村's 国保, the 広域連合); a basis that does not name one
    (第三者提供) is refused one. Checked when applied for and again at every extract."""
    spec = catalogue.basis(basis)
    if not spec.names_provider:
        if provider is not None:
            raise ProvisionError(f"provider: a {basis} names no providing insurer")
        return
    kinds = ", ".join(spec.insurer_kinds or ())
    if provider is None:
        raise ProvisionError(
            f"provider: a {basis} names the providing insurer (保険者番号, one of: {kinds})"
        )
    kind = connection.scalar(
        sa.select(registry.insurers.c.kind).where(registry.insurers.c.insurer_number == provider)
    )
    if kind is None:
        raise ProvisionError(f"provider: no insurer {provider} in the register")
    if spec.insurer_kinds is not None and kind not in spec.insurer_kinds:
        raise ProvisionError(f"provider: {provider} is {kind}, not {kinds} (a {basis})")


def check_period(catalogue: Catalogue, start: dt.date, end: dt.date, on: dt.date) -> None:
    """The data period (対象期間) of an application, on the day ``on`` it is applied for or
    reviewed: in order, over by then (data of days to come does not exist yet), and no longer
    than the catalogue's bound (an unbounded period is not 必要最小限)."""
    if start > end:
        raise ProvisionError("period: the start is after the end")
    if end > on:
        raise ProvisionError(f"period: ends on {end}, after {on}: it must not be in the future")
    days = (end - start).days + 1
    if days > catalogue.longest_period_days:
        raise ProvisionError(
            f"period: {start}..{end} is {days} days, longer than "
            f"{catalogue.longest_period_days} (longest_period_days)"
        )


def _step(
    connection: sa.Connection, pid: str, step: str, by: str, detail: Mapping[str, Any]
) -> None:
    connection.execute(
        provision_steps.insert().values(
            provision_id=pid, step=step, recorded_at=dt.datetime.now(dt.UTC), recorded_by=by,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
        )
    )  # fmt: skip


def _items(text: str | None) -> dict[str, tuple[str, ...]] | None:
    if text is None:
        return None
    return {t: tuple(i) for t, i in json.loads(text).items()}


def _provision(row: Any, steps: Sequence[Any] = ()) -> Provision:
    requested = _items(row.requested)
    assert requested is not None
    return Provision(
        row.provision_id, row.basis, row.state, row.applicant, row.organisation, row.purpose,
        row.public_interest, row.place, tuple(json.loads(row.users)), requested,
        _items(row.approved), row.period_from, row.period_to, row.applied_on, row.term_until,
        row.extracts,
        tuple(Step(s.step, s.recorded_at, s.recorded_by, json.loads(s.detail)) for s in steps),
        row.provider_insurer,
    )  # fmt: skip


def _load(connection: sa.Connection, pid: str, step: str | None = None) -> Provision:
    if not _ID.fullmatch(pid):
        raise UnknownProvision(f"provision {pid!r}: an id is P and six digits")
    row = connection.execute(
        sa.select(provisions).where(provisions.c.provision_id == pid)
    ).one_or_none()
    if row is None:
        raise UnknownProvision(f"provision {pid}: no such provision")
    if step is not None and step not in ALLOWED[row.state]:
        raise ProvisionError(f"provision {pid} is {row.state}: it cannot be {_DONE[step]} now")
    return _provision(row)


def _move(connection: sa.Connection, current: Provision, **values: Any) -> None:
    done = connection.execute(
        provisions.update()
        .where(provisions.c.provision_id == current.provision_id,
               provisions.c.state == current.state,
               provisions.c.extracts == current.extracts)
        .values(**values)
    )  # fmt: skip
    if done.rowcount != 1:
        raise ProvisionError(f"provision {current.provision_id} changed meanwhile; try again")


def _last_day(connection: sa.Connection, current: Provision) -> dt.date:
    """The latest day the provision's recorded steps claim (the application's, the review's,
    each extract's): a later step may not be dated before it."""
    days = [current.applied_on]
    details = connection.scalars(
        sa.select(provision_steps.c.detail).where(
            provision_steps.c.provision_id == current.provision_id
        )
    )
    for text in details:
        claimed = json.loads(text).get("on")
        if isinstance(claimed, str):
            days.append(dt.date.fromisoformat(claimed))
    return max(days)


def _not_before_last(connection: sa.Connection, current: Provision, on: dt.date) -> None:
    """Steps are dated in order: the term is checked against the step's own day, so a day
    going back before the steps already taken would let an extract be made after its term
    ended (dated back into it)."""
    last = _last_day(connection, current)
    if on < last:
        raise ProvisionError(
            f"provision {current.provision_id}: {on} is before its last recorded step "
            f"({last}): a step is not dated before the steps already taken"
        )


def add_reviewer(
    engine: sa.Engine, name: str, *, on: dt.date, actor: str, audit: ProvisionAudit
) -> None:
    """Adds a reviewer (審査委員): only reviewers may review."""
    name = _text(name, "reviewer", 100)
    actor = _text(actor, "by", 100)  # it goes into the audit record, which is bounded
    with engine.begin() as connection:
        exists = appointed_reviewer(connection, name)
        if exists is not None:  # under this spelling or another of the same name
            raise ProvisionError(f"reviewer {name!r} is already a reviewer ({exists!r})")
        audit("provision_reviewer", actor, [], {"reviewer": name})
        connection.execute(provision_reviewers.insert().values(name=name, added_on=on))


def reviewers(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(sa.select(provision_reviewers.c.name).order_by("name")))


def apply(
    engine: sa.Engine, catalogue: Catalogue, app: Application, *, on: dt.date,
    audit: ProvisionAudit,
) -> str:  # fmt: skip
    """Records an application or request (申出・求め); returns its id (P + 6 digits)."""
    requested = _check_application(catalogue, app, on)
    with engine.connect() as connection:
        check_provider(connection, catalogue, app.basis, app.provider)
    try:
        return _insert(engine, app, requested, on, audit)
    except sa.exc.IntegrityError:
        # Another application took the same number between our read and our insert.
        raise ProvisionError("another application was recorded meanwhile; try again") from None


def _insert(
    engine: sa.Engine, app: Application, requested: Mapping[str, tuple[str, ...]],
    on: dt.date, audit: ProvisionAudit,
) -> str:  # fmt: skip
    with engine.begin() as connection:
        last = connection.scalar(sa.select(sa.func.max(provisions.c.provision_id)))
        pid = f"P{int(last[1:]) + 1 if last else 1:06d}"
        detail = {"basis": app.basis, "requested": {t: list(i) for t, i in requested.items()}}
        if app.provider is not None:
            detail["provider"] = app.provider
        audit("provision_apply", app.applicant.strip(), [], {"provision": pid, **detail})
        connection.execute(
            provisions.insert().values(
                provision_id=pid, basis=app.basis, state=APPLIED, applicant=app.applicant.strip(),
                organisation=app.organisation.strip(), purpose=app.purpose.strip(),
                public_interest=app.public_interest.strip(), place=app.place.strip(),
                users=json.dumps([u.strip() for u in app.users], ensure_ascii=False),
                requested=json.dumps(requested, ensure_ascii=False), approved=None,
                period_from=app.period_from, period_to=app.period_to, applied_on=on,
                term_until=None, extracts=0, provider_insurer=app.provider,
            )
        )  # fmt: skip
        _step(connection, pid, "applied", app.applicant.strip(), detail)
    return pid


def review(
    engine: sa.Engine, catalogue: Catalogue, pid: str, *, reviewer: str, decision: str,
    minutes: str, on: dt.date, conditions: str = "",
    approved: Mapping[str, Sequence[str]] | None = None, term_until: dt.date | None = None,
    audit: ProvisionAudit,
) -> Provision:  # fmt: skip
    """The committee's review (審査): approve, approve with conditions, or reject, with the
    minutes (議事概要). Only a reviewer may review, never the applicant or a named user. An
    approval may narrow the items (default: all requested) and sets the data-use term."""
    if decision not in DECISIONS:
        raise ProvisionError(f"decision {decision!r}: one of {', '.join(DECISIONS)}")
    minutes = _text(minutes, "minutes (議事概要)", 20000, lines=True)
    if conditions.strip():
        _text(conditions, "conditions", 20000, lines=True)
    with engine.begin() as connection:
        current = _load(connection, pid, "review")
        _not_before_last(connection, current, on)
        name = reviewer_of(connection, current, reviewer.strip(), "review")
        state = DECISIONS[decision]
        granted: dict[str, tuple[str, ...]] | None = None
        if state != REJECTED:
            if decision == "conditions" and not conditions.strip():
                raise ProvisionError("conditions: an approval with conditions names them")
            # An application recorded before the period was bounded is checked here again.
            check_period(catalogue, current.period_from, current.period_to, on)
            # None is "every requested item"; an empty approval approves nothing, and was
            # read as everything when it was taken for a missing one.
            if approved is not None and not approved:
                raise ProvisionError("approved: approves no table; approve items or reject")
            granted = check_items(catalogue, current.basis,
                                  current.requested if approved is None else approved,
                                  "approved")  # fmt: skip
            for table, items in granted.items():
                extra = set(items) - set(current.requested.get(table, ()))
                if extra:
                    raise ProvisionError(f"approved: {table}.{sorted(extra)[0]} was not requested")
            if term_until is None:
                raise ProvisionError("term: an approval sets the data-use term (利用期間)")
            # Near the end of the calendar the longest term runs past it: cap it there.
            span = dt.timedelta(days=catalogue.longest_term_days)
            longest = dt.date.max if on > dt.date.max - span else on + span
            if not on < term_until <= longest:
                raise ProvisionError(
                    f"term: must end after {on} and by {longest} "
                    f"({catalogue.longest_term_days} days)"
                )
        audit("provision_review", name, [],
              {"provision": pid, "decision": decision, "state": state})  # fmt: skip
        _move(connection, current, state=state,
              approved=None if granted is None else json.dumps(granted, ensure_ascii=False),
              term_until=term_until if granted is not None else None)  # fmt: skip
        detail: dict[str, Any] = {
            "decision": decision, "minutes": minutes, "conditions": conditions.strip(),
            "approved": None if granted is None else {t: list(i) for t, i in granted.items()},
            "term_until": None if granted is None or term_until is None
            else term_until.isoformat(), "on": on.isoformat(),
        }  # fmt: skip
        _step(connection, pid, "reviewed", name, detail)
    return provision_detail(engine, pid)


def revoke(
    engine: sa.Engine, pid: str, *, reviewer: str, reason: str, on: dt.date,
    audit: ProvisionAudit,
) -> Provision:  # fmt: skip
    """承認の取消: a reviewer (never the applicant or a user) withdraws the approval, with the
    reason (a breach of the conditions, a use outside the purpose). No extract follows; the
    user still confirms the deletion, and tables made before may still be checked."""
    reason = _text(reason, "reason", 20000, lines=True)
    name = _text(reviewer, "reviewer", 100)
    with engine.begin() as connection:
        current = _load(connection, pid, "revoke")
        _not_before_last(connection, current, on)
        name = reviewer_of(connection, current, name, "revoke")
        detail = {"reason": reason, "on": on.isoformat(), "from": current.state}
        audit("provision_revoke", name, [], {"provision": pid, "on": on.isoformat()})
        _move(connection, current, state=REVOKED)
        _step(connection, pid, "revoked", name, detail)
    return provision_detail(engine, pid)


def begin_extract(
    connection: sa.Connection, catalogue: Catalogue, pid: str, on: dt.date
) -> Provision:
    """The provision an extract may be built for: approved, within its term, with a stored
    approval of some item and a bounded data period (one approved before either was checked
    is refused here)."""
    current = _load(connection, pid, "extract")
    _not_before_last(connection, current, on)
    if not current.approved or not all(current.approved.values()):
        # The stored approval is the one thing an extract is built from: an empty one
        # (written by hand, or before reviews refused it) gives nothing to build.
        raise ProvisionError(f"provision {pid}: its approval approves no item; no extract")
    check_period(catalogue, current.period_from, current.period_to, on)
    try:
        # A request recorded before it had to name its provider, or a provider whose kind
        # no longer fits the catalogue in force, is not extracted: whose data would it be?
        check_provider(connection, catalogue, current.basis, current.provider)
    except ProvisionError as error:
        raise ProvisionError(f"provision {pid}: {error}; no extract") from None
    if current.term_until is None or on > current.term_until:
        raise ProvisionError(
            f"provision {pid}: the data-use term ended on {current.term_until}; no more extracts"
        )
    return current


def finish_extract(
    connection: sa.Connection, current: Provision, by: str, detail: Mapping[str, Any]
) -> int:
    """Records an extract (its number, tables, rows, digests); returns its number."""
    number = current.extracts + 1
    _move(connection, current, state=PROVIDED, extracts=number)
    _step(connection, current.provision_id, "extracted", by, {"extract": number, **detail})
    return number


def confirm_deletion(
    engine: sa.Engine, pid: str, *, by: str, method: str, on: dt.date, audit: ProvisionAudit,
    key_folder: Any = None,
) -> Provision:  # fmt: skip
    """The deletion confirmation (消去の確認): the statement of the applicant or a named user
    (``by``, kokuho.provision._roles) of how the data was erased;
    the provision's key is destroyed, so its IDs cannot be recomputed, and no extract follows."""
    method = _text(method, "method (消去方法)", lines=True)
    by = _text(by, "by", 100)
    with engine.begin() as connection:
        current = _load(connection, pid, "delete")
        _not_before_last(connection, current, on)
        deletion_party(current, by)
        term_ended = bool(current.term_until and on > current.term_until)
        facts = {"method": method, "on": on.isoformat(), "term_ended": term_ended}
        audit("provision_delete", by, [], {"provision": pid, **facts})
        _move(connection, current, state=DELETED)
        destroyed = destroy_provision_key(pid, folder=key_folder)
        detail = {**facts, "key_destroyed": destroyed}
        _step(connection, pid, "deleted", by, detail)
    return provision_detail(engine, pid)


def record_release_check(
    engine: sa.Engine, pid: str, check: ReleaseCheck, *, by: str, audit: ProvisionAudit
) -> bool:
    """公表物確認: records the checker's verdict on a result table of ``pid``; True when fit
    to publish. A table that breaks the rules is recorded as refused (公表不可)."""
    by = _text(by, "by", 100)
    with engine.begin() as connection:
        _load(connection, pid, "release_check")
        detail = {
            "file": check.file, "sha256": check.sha256, "ok": check.ok, "rows": check.rows,
            "columns": check.columns,
            "hidden": check.hidden, "findings": [str(f) for f in check.findings][:20],
            "verdict": "公表可" if check.ok else "公表不可",
        }  # fmt: skip
        audit("provision_release_check", by, [],
              {"provision": pid, "ok": check.ok, "file": check.file[-200:],
               "sha256": check.sha256})  # fmt: skip
        _step(connection, pid, "release_checked", by, detail)
    return check.ok


def provision_detail(engine: sa.Engine, pid: str) -> Provision:
    """One provision with its steps."""
    with engine.connect() as connection:
        current = _load(connection, pid)
        steps = connection.execute(
            sa.select(provision_steps).where(provision_steps.c.provision_id == pid)
            .order_by(provision_steps.c.step_id)
        ).all()  # fmt: skip
        row = connection.execute(
            sa.select(provisions).where(provisions.c.provision_id == current.provision_id)
        ).one()
        return _provision(row, steps)


def list_provisions(engine: sa.Engine, *, statutory: bool | None = None) -> list[Provision]:
    """Every provision (``statutory``: only the statutory requests, or only 第三者提供)."""
    query = sa.select(provisions).order_by(provisions.c.provision_id)
    if statutory is True:
        query = query.where(provisions.c.basis != "third_party")
    elif statutory is False:
        query = query.where(provisions.c.basis == "third_party")
    with engine.connect() as connection:
        return [_provision(row) for row in connection.execute(query)]
