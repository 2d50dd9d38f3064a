"""Dashboard users and sessions: scrypt hashes, lockout, expiry, demo accounts (both databases)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.registry import load_insurers
from kokuho.web.dashboard import (
    AccountError,
    add_user,
    authenticate,
    create_demo_accounts,
    disable_user,
    list_users,
)
from kokuho.web.dashboard import tables as t
from kokuho.web.dashboard._accounts import (
    LOCKOUT,
    MAX_FAILURES,
    SESSION_IDLE,
    check_password,
    hash_password,
    open_session,
    resume_session,
)
from tests.feedfiles import KOKUHO, KYOKAI, write_insurers

PASSWORD = "correct horse battery"


@pytest.fixture
def register(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    return engine


def test_password_hash_is_salted_scrypt_and_checks() -> None:
    first, second = hash_password(PASSWORD, n=2**10), hash_password(PASSWORD, n=2**10)
    assert first.startswith("scrypt$1024$8$1$") and first != second
    assert PASSWORD not in first
    assert check_password(PASSWORD, first) and check_password(PASSWORD, second)
    assert not check_password("correct horse batterY", first)
    assert not check_password(PASSWORD, "pbkdf2$1$x$y$z$w")
    assert not check_password(PASSWORD, "garbage")


def test_users_are_added_with_their_municipality(register: sa.Engine) -> None:
    staff = add_user(register, "takamatsu", PASSWORD, role="municipal", insurer_number=KOKUHO)
    assert (staff.municipality_code, staff.municipality_name) == ("372013", "高松市")
    add_user(register, "pref", PASSWORD, role="prefecture", display_name="県 国保室")
    listed = {u.username: u for u in list_users(register)}
    assert listed["pref"].is_prefecture and listed["pref"].display_name == "県 国保室"
    assert listed["takamatsu"].may_see_persons_of(KOKUHO)
    assert not listed["pref"].may_see_persons_of(KOKUHO)  # counts only
    assert listed["pref"].may_see_municipality(KOKUHO)
    with register.connect() as connection:
        stored = connection.scalar(sa.select(t.dashboard_users.c.password_hash))
    assert stored is not None and PASSWORD not in stored


@pytest.mark.parametrize(
    ("username", "password", "role", "insurer", "message"),
    [
        ("a", "short", "prefecture", None, "at least 10"),
        ("x" * 31, PASSWORD, "prefecture", None, "1–30"),
        ("名前", PASSWORD, "prefecture", None, "ASCII"),
        ("a", PASSWORD, "admin", None, "role"),
        ("a", PASSWORD, "municipal", None, "insurer number"),
        ("a", PASSWORD, "municipal", KYOKAI, "not a 市町村国保"),
        ("a", PASSWORD, "prefecture", KOKUHO, "not bound"),
    ],
)
def test_bad_users_are_refused(
    register: sa.Engine, username: str, password: str, role: str, insurer: str | None, message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        add_user(register, username, password, role=role, insurer_number=insurer)  # type: ignore[arg-type]


def test_an_existing_user_needs_replace(register: sa.Engine) -> None:
    add_user(register, "pref", PASSWORD, role="prefecture")
    with pytest.raises(AccountError, match="exists"):
        add_user(register, "pref", PASSWORD, role="prefecture")
    add_user(register, "pref", "another password", role="prefecture", replace=True)
    assert authenticate(register, "pref", "another password").user is not None


def test_five_wrong_passwords_lock_the_account(register: sa.Engine) -> None:
    add_user(register, "pref", PASSWORD, role="prefecture")
    for _ in range(MAX_FAILURES - 1):
        assert authenticate(register, "pref", "wrong password").reason == "invalid"
    locked = authenticate(register, "pref", "wrong password")
    assert locked.reason == "locked" and locked.locked_until is not None
    now = dt.datetime.now(dt.UTC)
    assert LOCKOUT - dt.timedelta(seconds=30) < locked.locked_until - now <= LOCKOUT
    # Even the right password is refused while locked.
    assert authenticate(register, "pref", PASSWORD).reason == "locked"
    with register.begin() as connection:
        connection.execute(
            t.dashboard_users.update().values(locked_until=now - dt.timedelta(seconds=1))
        )
    assert authenticate(register, "pref", PASSWORD).user is not None


def test_a_right_password_resets_the_failure_count(register: sa.Engine) -> None:
    add_user(register, "pref", PASSWORD, role="prefecture")
    for _ in range(MAX_FAILURES - 1):
        authenticate(register, "pref", "wrong password")
    assert authenticate(register, "pref", PASSWORD).user is not None
    assert authenticate(register, "pref", "wrong password").reason == "invalid"


def test_unknown_users_look_like_wrong_passwords(register: sa.Engine) -> None:
    assert authenticate(register, "nobody", PASSWORD).reason == "invalid"


def test_sessions_are_stored_hashed_and_expire(register: sa.Engine) -> None:
    user = add_user(register, "pref", PASSWORD, role="prefecture")
    session = open_session(register, user)
    with register.connect() as connection:
        stored = connection.scalar(sa.select(t.dashboard_sessions.c.token_sha256))
    assert stored is not None and session.token not in stored and len(stored) == 64
    resumed = resume_session(register, session.token)
    assert resumed is not None and resumed.user.username == "pref"
    assert resumed.csrf_token == session.csrf_token
    assert resume_session(register, session.token + "x") is None
    idle = dt.datetime.now(dt.UTC) + SESSION_IDLE + dt.timedelta(seconds=5)
    assert resume_session(register, session.token, now=idle) is None
    # An idle session is removed, not only refused.
    assert resume_session(register, session.token) is None


def test_sessions_end_at_their_absolute_expiry(register: sa.Engine) -> None:
    user = add_user(register, "pref", PASSWORD, role="prefecture")
    session = open_session(register, user)
    later = session.expires_at + dt.timedelta(seconds=1)
    with register.begin() as connection:
        connection.execute(t.dashboard_sessions.update().values(last_seen_at=later))
    assert resume_session(register, session.token, now=later) is None


def test_demo_accounts_cover_every_municipality(register: sa.Engine) -> None:
    accounts = create_demo_accounts(register)
    assert [(a.username, a.role, a.insurer_number) for a in accounts] == [
        ("pref", "prefecture", None),
        ("takamatsu", "municipal", KOKUHO),
    ]
    assert authenticate(register, "takamatsu", accounts[1].password).user is not None
    # Running it again resets them rather than failing.
    assert len(create_demo_accounts(register)) == 2


def test_a_race_of_sign_ins_checks_at_most_five_passwords(
    register: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from kokuho.web.dashboard import _accounts

    add_user(register, "pref", PASSWORD, role="prefecture")
    checked: list[bool] = []
    real_check = _accounts.check_password

    def counting(password: str, stored: str) -> bool:
        if stored != _accounts._dummy_hash():  # a check against the account's own hash
            checked.append(password == PASSWORD)
        return real_check(password, stored)

    monkeypatch.setattr(_accounts, "check_password", counting)
    _accounts._dummy_hash()  # made before the race, so that it does not slow one attempt
    wrong = 11
    start = threading.Barrier(wrong)
    outcomes: list[str | None] = []

    def attempt(password: str, barrier: threading.Barrier | None) -> None:
        if barrier is not None:
            barrier.wait()
        outcome = authenticate(register, "pref", password)
        outcomes.append("signed in" if outcome.user else outcome.reason)

    threads = [
        threading.Thread(target=attempt, args=("wrong password", start)) for _ in range(wrong)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # the right password comes last, while the wrong ones are being checked
    last = threading.Thread(target=attempt, args=(PASSWORD, None))
    last.start()
    for thread in [*threads, last]:
        thread.join(timeout=120)
    assert len(outcomes) == wrong + 1
    assert len(checked) <= MAX_FAILURES, checked
    assert "signed in" not in outcomes
    with register.connect() as connection:
        until = connection.scalar(sa.select(t.dashboard_users.c.locked_until))
    assert until is not None  # locked after the race


def test_a_disabled_user_can_neither_sign_in_nor_keep_a_session(register: sa.Engine) -> None:
    # A member of staff who leaves (退職・異動): nothing could set disabled_at, which sign-in
    # and sessions honour; the only way out was --replace with a password nobody knows.
    user = add_user(register, "takamatsu", PASSWORD, role="municipal", insurer_number=KOKUHO)
    first, second = open_session(register, user), open_session(register, user)
    disable_user(register, "takamatsu")
    assert resume_session(register, first.token) is None
    assert resume_session(register, second.token) is None
    with register.connect() as connection:
        left = connection.scalar(sa.select(sa.func.count()).select_from(t.dashboard_sessions))
    assert left == 0
    assert authenticate(register, "takamatsu", PASSWORD).reason == "invalid"
    [listed] = list_users(register)
    assert listed.disabled
    with pytest.raises(AccountError, match="already disabled"):
        disable_user(register, "takamatsu")
    with pytest.raises(AccountError, match="no user 'nobody'"):
        disable_user(register, "nobody")
    # --replace resets the account, as documented: enabled again with the new password.
    add_user(register, "takamatsu", "a new password", role="municipal", insurer_number=KOKUHO,
             replace=True)  # fmt: skip
    assert authenticate(register, "takamatsu", "a new password").user is not None
    assert not list_users(register)[0].disabled
