"""One small synthetic prefecture for the dashboard tests, built once per test run (shared by
the xdist workers through a lock in pytest's common temporary folder), loaded as ``kokuho
demo`` loads it, with the demo accounts."""

from __future__ import annotations

import datetime as dt
import fcntl
import shutil
import sqlite3
from pathlib import Path

import pytest

from kokuho.cli._dashboard import build_demo_home
from kokuho.config import Settings

PERSONS = 600
SEED = 5
START = dt.date(2020, 4, 1)


def shared_demo_home(factory: pytest.TempPathFactory, worker_id: str) -> Path:
    root = factory.getbasetemp()
    if worker_id != "master":
        root = root.parent
    home = root / "dashboard-demo"
    with open(root / "dashboard-demo.lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if not (home / "ready").exists():
            home.mkdir(parents=True, exist_ok=True)
            build_demo_home(home, persons=PERSONS, seed=SEED)
            _incentive_inputs(home)
            _test_users(home)
            (home / "ready").touch()
    return home


def _incentive_inputs(home: Path) -> None:
    """The 保険者努力支援制度 input files of the synthetic prefecture, when this kokuho's
    generator does not write them yet (the dashboard reads $KOKUHO_HOME/demo/incentives)."""
    if (home / "demo" / "incentives" / "national.csv").exists():
        return
    from kokuho.synth._data import load_prefecture
    from kokuho.synth._incentive_inputs import write

    write(load_prefecture(), home / "demo", SEED, persons=PERSONS, start=START, years=3)


def copy_home(home: Path, copy: Path) -> Path:
    """A private copy of the demo home, for a test that changes what it holds."""
    # Other workers write to the shared database meanwhile: copy it with SQLite's backup.
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("kokuho.db*"))
    source, target = sqlite3.connect(home / "kokuho.db"), sqlite3.connect(copy / "kokuho.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return copy


def settings_for(home: Path) -> Settings:
    secrets = home / "secrets"
    return Settings(
        home, f"sqlite:///{home / 'kokuho.db'}", secrets / "mynumber.key", secrets / "service.key"
    )


#: Municipal users of tests/test_dashboard_pages.py, apart from the demo accounts the browser
#: tests use at the same time, so that each test finds its own audit records.
TEST_USERS = {"tk-pages": "370015", "mg-pages": "370023"}


def _test_users(home: Path) -> None:
    from kokuho.store import connect
    from kokuho.web.dashboard import MUNICIPAL_PASSWORD, add_user

    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    try:
        for username, insurer in TEST_USERS.items():
            add_user(engine, username, MUNICIPAL_PASSWORD, role="municipal",
                     insurer_number=insurer, replace=True)  # fmt: skip
    finally:
        engine.dispose()
