"""The 見える化 dashboard: Japanese pages for prefecture and municipal staff under ``/``.

No rules live here: the pages call the public functions of the contexts (registry, verify,
checkups, claims, incentives) and lay their figures out as charts and tables.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from kokuho.web.dashboard import _tables as tables
from kokuho.web.dashboard._accounts import (
    ROLES,
    AccountError,
    Role,
    SignIn,
    User,
    add_user,
    authenticate,
    disable_user,
    list_users,
)
from kokuho.web.dashboard._audit import AuditSink
from kokuho.web.dashboard._demo import (
    MUNICIPAL_PASSWORD,
    PREFECTURE_PASSWORD,
    PREFECTURE_USER,
    ROMAJI,
    DemoAccount,
    create_demo_accounts,
)
from kokuho.web.dashboard._errors import ErrorPages
from kokuho.web.dashboard._params import BadParameter, bad_parameter_response
from kokuho.web.dashboard._routes import build_router
from kokuho.web.dashboard._site import Dashboard

STATIC = Path(__file__).resolve().parent.parent / "static"


def install_dashboard(
    app: FastAPI, engine: sa.Engine, home: Path, audit: AuditSink, *, warm_up: bool = True
) -> Dashboard:
    """Adds the dashboard's pages and its static files to ``app``; returns it (close it with
    the app)."""
    dashboard = Dashboard.for_home(engine, home, audit)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(build_router(dashboard))
    app.add_exception_handler(BadParameter, bad_parameter_response)
    if warm_up:
        dashboard.warm_up()
    return dashboard


__all__ = [
    "MUNICIPAL_PASSWORD",
    "PREFECTURE_PASSWORD",
    "PREFECTURE_USER",
    "ROLES",
    "ROMAJI",
    "AccountError",
    "AuditSink",
    "Dashboard",
    "DemoAccount",
    "ErrorPages",
    "Role",
    "SignIn",
    "User",
    "add_user",
    "authenticate",
    "create_demo_accounts",
    "disable_user",
    "install_dashboard",
    "list_users",
    "tables",
]
