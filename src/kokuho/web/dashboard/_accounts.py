"""Dashboard users (利用者) and sessions: scrypt password hashes, lockout after repeated
failures, session tokens stored only as their SHA-256, absolute and idle expiry."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Final, Literal

import sqlalchemy as sa

from kokuho.registry import tables as registry_tables
from kokuho.store import has_control, stored_utc
from kokuho.web.dashboard._tables import dashboard_sessions, dashboard_users

Role = Literal["prefecture", "municipal"]
ROLES: Final[tuple[Role, ...]] = ("prefecture", "municipal")

#: scrypt cost: 2**14 × 8 × 128 B = 16 MiB and ~50 ms a guess (RFC 7914's interactive level).
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
MIN_PASSWORD: Final = 10
#: Five wrong passwords in a row lock the account for 15 minutes.
MAX_FAILURES: Final = 5
LOCKOUT: Final = dt.timedelta(minutes=15)
#: A session lasts 8 hours at most and ends after 30 minutes without a request.
SESSION_LIFETIME: Final = dt.timedelta(hours=8)
SESSION_IDLE: Final = dt.timedelta(minutes=30)


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 * 2**20, dklen=32
    )
    encode = base64.b64encode
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    computed = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        maxmem=64 * 2**20,
        dklen=32,
    )
    return hmac.compare_digest(computed, base64.b64decode(digest))


@functools.cache
def _dummy_hash() -> str:
    # Checked against when the user does not exist, so that a wrong name costs as long as a
    # wrong password and does not tell which names exist.
    return hash_password(secrets.token_hex(16))


class AccountError(ValueError):
    """A user cannot be added as asked (bad role, unknown insurer, weak password …)."""


@dataclass(frozen=True)
class User:
    """A dashboard user. ``insurer_number`` and ``municipality_code`` are set for municipal
    staff (their 市町村国保); prefecture staff see every municipality."""

    username: str
    display_name: str
    role: Role
    insurer_number: str | None = None
    municipality_code: str | None = None
    municipality_name: str | None = None
    #: Disabled (利用停止): no sign-in, no session; ``add_user(replace=True)`` enables again.
    disabled: bool = False

    @property
    def is_prefecture(self) -> bool:
        return self.role == "prefecture"

    def may_see_municipality(self, insurer_number: str) -> bool:
        return self.is_prefecture or insurer_number == self.insurer_number

    def may_see_persons_of(self, insurer_number: str) -> bool:
        """Person-level lists: only the staff of the insurer that insures the persons."""
        return self.role == "municipal" and insurer_number == self.insurer_number


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else stored_utc(value)


def add_user(
    engine: sa.Engine,
    username: str,
    password: str,
    *,
    role: Role,
    display_name: str | None = None,
    insurer_number: str | None = None,
    replace: bool = False,
) -> User:
    """Adds a user (利用者登録). Municipal staff name their 市町村国保's 保険者番号."""
    if not plausible_username(username) or any(c.isspace() for c in username):
        raise AccountError("username must be 1–30 printable ASCII characters without spaces")
    # The column holds 100: a longer name was a DataError on PostgreSQL (an internal error).
    if display_name is not None and (len(display_name) > 100 or has_control(display_name)):
        raise AccountError(
            "the display name must be at most 100 characters without control characters or "
            "bidi controls"
        )
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must have at least {MIN_PASSWORD} characters")
    if role == "prefecture" and insurer_number is not None:
        raise AccountError("prefecture staff are not bound to an insurer")
    i = registry_tables.insurers.c
    with engine.begin() as connection:
        municipality = None
        if role == "municipal":
            if insurer_number is None:
                raise AccountError("municipal staff need their 市町村国保's insurer number")
            municipality = connection.execute(
                sa.select(i.name, i.municipality_code).where(
                    i.insurer_number == insurer_number, i.kind == "kokuho_municipal"
                )
            ).first()
            if municipality is None:
                raise AccountError(f"{insurer_number} is not a 市町村国保 in the register")
        exists = connection.scalar(
            sa.select(sa.func.count()).where(dashboard_users.c.username == username)
        )
        values = {
            "display_name": display_name or username,
            "role": role,
            "insurer_number": insurer_number,
            "password_hash": hash_password(password),
            "failed_logins": 0,
            "locked_until": None,
            "disabled_at": None,
        }
        if exists and not replace:
            raise AccountError(f"user {username!r} exists")
        if exists:
            connection.execute(
                dashboard_sessions.delete().where(dashboard_sessions.c.username == username)
            )
            connection.execute(
                dashboard_users.update()
                .where(dashboard_users.c.username == username)
                .values(**values)
            )
        else:
            connection.execute(
                dashboard_users.insert().values(username=username, created_at=_now(), **values)
            )
    return User(
        username,
        display_name or username,
        role,
        insurer_number,
        municipality.municipality_code if municipality else None,
        municipality.name.removesuffix("国民健康保険") if municipality else None,
    )


def _user_query() -> sa.Select[Any]:
    u = dashboard_users.c
    i = registry_tables.insurers
    return sa.select(
        u.username,
        u.display_name,
        u.role,
        u.insurer_number,
        i.c.municipality_code,
        i.c.name,
        u.disabled_at,
    ).select_from(dashboard_users.outerjoin(i, i.c.insurer_number == u.insurer_number))


def _user(row: sa.Row[Any]) -> User:
    values: dict[str, Any] = dict(row._mapping)
    name = values["name"]
    return User(
        str(values["username"]),
        str(values["display_name"]),
        "prefecture" if values["role"] == "prefecture" else "municipal",
        values["insurer_number"],
        values["municipality_code"],
        None if name is None else str(name).removesuffix("国民健康保険"),
        values["disabled_at"] is not None,
    )


def disable_user(engine: sa.Engine, username: str) -> None:
    """Disables a user (利用停止: a member of staff who left or moved): sign-in is refused as
    for an unknown name and every session of theirs ends now. ``add_user(replace=True)``
    enables the account again with a new password."""
    u = dashboard_users.c
    with engine.begin() as connection:
        row = connection.execute(sa.select(u.disabled_at).where(u.username == username)).first()
        if row is None:
            raise AccountError(f"no user {username!r}")
        if row.disabled_at is not None:
            raise AccountError(f"user {username!r} is already disabled")
        connection.execute(
            dashboard_users.update().where(u.username == username).values(disabled_at=_now())
        )
        connection.execute(
            dashboard_sessions.delete().where(dashboard_sessions.c.username == username)
        )


def list_users(engine: sa.Engine) -> list[User]:
    with engine.connect() as connection:
        rows = connection.execute(_user_query().order_by(dashboard_users.c.username)).all()
    return [_user(row) for row in rows]


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: ``user`` when the password was right and the account open;
    else ``reason`` (``invalid`` or ``locked``) and, when locked, until when."""

    user: User | None
    reason: str | None = None
    locked_until: dt.datetime | None = None


def plausible_username(username: str) -> bool:
    """A name that add_user could have made: 1–30 printable ASCII characters."""
    return 0 < len(username) <= 30 and username.isascii() and username.isprintable()


def authenticate(engine: sa.Engine, username: str, password: str) -> SignIn:
    """Checks a password. Wrong ones count; the fifth in a row locks the account.

    An attempt first takes one of the account's five tries in a single conditional UPDATE,
    so that parallel attempts cannot check more than five passwords before the lock: the
    try that makes five sets the lock itself, and a right password lifts it. Every refusal
    (unknown or disabled user, locked account, wrong password) costs one scrypt check, so
    their timing does not tell which names exist."""
    u = dashboard_users.c
    now = _now()
    taken, stored, locked = 0, None, None
    if plausible_username(username):
        fifth = u.failed_logins + 1 >= MAX_FAILURES
        with engine.begin() as connection:
            taken = connection.execute(
                dashboard_users.update()
                .where(
                    u.username == username,
                    u.disabled_at.is_(None),
                    sa.or_(u.locked_until.is_(None), u.locked_until <= now),
                )
                .values(
                    failed_logins=sa.case((fifth, 0), else_=u.failed_logins + 1),
                    locked_until=sa.case((fifth, now + LOCKOUT), else_=None),
                )
            ).rowcount
            row = connection.execute(
                sa.select(u.password_hash, u.locked_until).where(u.username == username)
            ).first()
        if row is not None:
            stored, locked = row.password_hash, _aware(row.locked_until)
    if not taken or stored is None:
        check_password(password, _dummy_hash())
        if locked is not None and locked > now:
            return SignIn(None, "locked", locked)
        return SignIn(None, "invalid")
    if check_password(password, stored):
        with engine.begin() as connection:
            connection.execute(
                dashboard_users.update()
                .where(u.username == username)
                .values(failed_logins=0, locked_until=None)
            )
            found = connection.execute(_user_query().where(u.username == username)).one()
        return SignIn(_user(found))
    if locked is not None and locked > now:
        return SignIn(None, "locked", locked)
    return SignIn(None, "invalid")


@dataclass(frozen=True)
class Session:
    token: str  # the cookie value; only its SHA-256 is stored
    csrf_token: str
    user: User
    expires_at: dt.datetime
    #: When the session ends unless another request comes: 30 minutes after the last request
    #: the server recorded, never past ``expires_at``. The cookie's Max-Age runs to it.
    ends_at: dt.datetime

    def seconds_left(self, now: dt.datetime | None = None) -> int:
        return max(0, round((self.ends_at - (now or _now())).total_seconds()))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(engine: sa.Engine, user: User) -> Session:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = _now()
    expires = now + SESSION_LIFETIME
    with engine.begin() as connection:
        # Expired sessions of anyone are swept on each sign-in: the table stays small.
        connection.execute(dashboard_sessions.delete().where(dashboard_sessions.c.expires_at < now))
        connection.execute(
            dashboard_sessions.insert().values(
                token_sha256=_digest(token),
                username=user.username,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=expires,
            )
        )
    return Session(token, csrf, user, expires, min(expires, now + SESSION_IDLE))


def resume_session(
    engine: sa.Engine, token: str, *, now: dt.datetime | None = None
) -> Session | None:
    """The session of a cookie token, or None when unknown, expired or idle too long."""
    now = now or _now()
    s = dashboard_sessions.c
    digest = _digest(token)
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(s.csrf_token, s.last_seen_at, s.expires_at, s.username).where(
                s.token_sha256 == digest
            )
        ).first()
        if row is None:
            return None
        user = connection.execute(
            _user_query().where(
                dashboard_users.c.username == row.username,
                dashboard_users.c.disabled_at.is_(None),
            )
        ).first()
    expires, seen = _aware(row.expires_at), _aware(row.last_seen_at)
    assert expires is not None and seen is not None
    if user is None or expires <= now or now - seen > SESSION_IDLE:
        close_session(engine, token)
        return None
    if now - seen > dt.timedelta(minutes=1):
        with engine.begin() as connection:
            connection.execute(
                dashboard_sessions.update().where(s.token_sha256 == digest).values(last_seen_at=now)
            )
        seen = now
    ends = min(expires, seen + SESSION_IDLE)
    return Session(token, row.csrf_token, _user(user), expires, ends)


def close_session(engine: sa.Engine, token: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            dashboard_sessions.delete().where(dashboard_sessions.c.token_sha256 == _digest(token))
        )
