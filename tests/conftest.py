"""Shared fixtures. Storage tests run on SQLite and on PostgreSQL.

PostgreSQL is reached at KOKUHO_TEST_POSTGRES_URL (default: the local server, database
``test``). Each test gets its own schema, dropped afterwards. Without a server the PostgreSQL
variants skip on a developer machine and fail under CI=true, where .ci/run must have started it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import kokuho.registry  # noqa: F401  (registers the register's tables)
import kokuho.verify  # noqa: F401  (and the service's)
from kokuho.store import connect

#: The provision workflow's shared fixtures (``audit``, ``cat``).
pytest_plugins = ("tests.provisioncases",)

if TYPE_CHECKING:
    from kokuho.config import Settings

POSTGRES_URL = os.environ.get(
    "KOKUHO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True, scope="session")
def _shipped_data_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test reads the data files shipped with kokuho: local copies in a developer's
    ./var/data (or $KOKUHO_HOME/data, docs/data.md) must not change what the tests compute.
    A test that needs a home of its own still sets KOKUHO_HOME itself."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KOKUHO_HOME", str(tmp_path_factory.mktemp("home")))
        yield


def _postgres_available() -> str | None:
    try:
        probe = sa.create_engine(POSTGRES_URL)
        with probe.connect() as connection:
            connection.execute(sa.text("select 1"))
        probe.dispose()
    except Exception as error:  # any failure to reach the server
        return f"{type(error).__name__}: {error}".splitlines()[0]
    return None


_POSTGRES_PROBLEM: str | None | bool = False  # False = not probed yet


def require_postgres() -> None:
    global _POSTGRES_PROBLEM
    if _POSTGRES_PROBLEM is False:
        _POSTGRES_PROBLEM = _postgres_available()
    if _POSTGRES_PROBLEM:
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {_POSTGRES_PROBLEM}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kokuho.db'}"
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """A migrated database of each kind (SQLite file, PostgreSQL schema)."""
    engine = connect(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def mynumber_key() -> bytes:
    return b"test-key-0123456789abcdef0123456789abcdef"


CLINIC = "3710112347"


def small_service(database_url: str, tmp_path: Path) -> tuple[Settings, str]:
    """A small register (Taro: 国保 2020-04-01 – 2021-03-31) and one clinic: the service's
    settings and the clinic's credential token."""
    from kokuho.config import Settings
    from kokuho.registry import import_changes, load_insurers
    from kokuho.verify import issue_credential, load_institutions
    from tests.feedfiles import acquire, lose, write_changes, write_csv, write_insurers

    engine = connect(database_url)
    load_insurers(engine, write_insurers(tmp_path / "i.csv"))
    rows = [acquire("K1", "2020-04-01"), lose("K2", "2021-04-01")]
    import_changes(engine, write_changes(tmp_path / "c.csv", rows))
    clinic = {"institution_code": CLINIC, "name": "讃岐クリニック", "status": "active"}
    write_csv(tmp_path / "inst.csv", list(clinic), [clinic])
    load_institutions(engine, tmp_path / "inst.csv")
    _, token = issue_credential(engine, label="受付", institution=CLINIC)
    engine.dispose()
    return Settings(tmp_path, database_url, tmp_path / "m.key", tmp_path / "s.key"), token


@pytest.fixture
def service_client(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """The whole app on :func:`small_service` and the clinic's credential token."""
    from kokuho.web import create_app

    settings, token = small_service(database_url, tmp_path)
    with TestClient(create_app(settings)) as http:
        yield http, token
