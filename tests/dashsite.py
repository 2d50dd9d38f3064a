"""A small site for the dashboard's input and isolation tests: the register of
tests/feedfiles.py (Taro, 国保 370015), one clinic with a credential, and dashboard users, on
a database of each kind; no lake (the pages say their data are missing)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import sqlalchemy as sa

from kokuho.config import Settings
from kokuho.registry import import_changes, load_insurers
from kokuho.store import connect
from kokuho.verify import issue_credential, load_institutions
from kokuho.web.dashboard import add_user
from tests.feedfiles import KOKUHO, acquire, lose, write_changes, write_csv, write_insurers

CLINIC = "3710112347"
PASSWORD = "correct horse battery"
MUNICIPAL = "tk-inputs"  # 高松市 (370015) staff
PREFECTURE = "pref-inputs"
CHECK = {"insurer_number": KOKUHO, "symbol": "12", "number": "1001", "branch": "01",
         "birth_date": "1970-05-15", "date_of_care": "2020-12-01", "purpose": "care"}  # fmt: skip


@dataclass(frozen=True)
class Site:
    settings: Settings
    token: str  # the clinic's credential


def build_site(database_url: str, home: Path) -> Site:
    engine = connect(database_url)
    try:
        load_insurers(engine, write_insurers(home / "i.csv"))
        rows = [acquire("K1", "2020-04-01"), lose("K2", "2021-04-01")]
        import_changes(engine, write_changes(home / "c.csv", rows))
        clinic = {"institution_code": CLINIC, "name": "讃岐クリニック", "status": "active"}
        write_csv(home / "inst.csv", list(clinic), [clinic])
        load_institutions(engine, home / "inst.csv")
        _, token = issue_credential(engine, label="受付", institution=CLINIC)
        add_user(engine, MUNICIPAL, PASSWORD, role="municipal", insurer_number=KOKUHO)
        add_user(engine, PREFECTURE, PASSWORD, role="prefecture")
    finally:
        engine.dispose()
    secrets = home / "secrets"
    # The key files where Settings.from_env looks for them, so that a server started on
    # ``home`` uses the same.
    keys = (secrets / "mynumber.key", secrets / "service.key")
    return Site(Settings(home, database_url, *keys), token)


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    """Signs ``client`` in through the form (CSRF cookie and token); returns the answer. A
    session cookie the client still holds is dropped first (a signed-in /login redirects)."""
    for name in ("kokuho_session", "__Host-kokuho_session"):
        client.cookies.delete(name)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, form.text[:300]
    return client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": password},
        follow_redirects=False,
    )


def form_token(client: httpx.Client) -> str:
    """The signed-in session's CSRF token, from a page's sign-out form."""
    page = client.get("/audit")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text[:300]
    return token.group(1)


def audit_rows(engine: sa.Engine, **where: str) -> list[sa.Row[tuple[object, ...]]]:
    from kokuho.verify import tables as v

    a = v.audit_log
    query = sa.select(a.c.seq, a.c.actor, a.c.action, a.c.outcome, a.c.detail)
    for column, value in where.items():
        query = query.where(a.c[column] == value)
    with engine.connect() as connection:
        return list(connection.execute(query.order_by(a.c.seq)))
