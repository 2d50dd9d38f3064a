"""Replica settings: KOKUHO_READ_DATABASE_URLS, KOKUHO_REPLICA_MAX_LAG, KOKUHO_AUDIT_SPOOL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.config import DEFAULT_REPLICA_MAX_LAG, Settings
from kokuho.store import ReadRouter


def test_replicas_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    monkeypatch.delenv("KOKUHO_AUDIT_SPOOL", raising=False)
    monkeypatch.delenv("KOKUHO_REPLICA_MAX_LAG", raising=False)
    monkeypatch.setenv("KOKUHO_READ_DATABASE_URLS", " postgresql://r1/k, ,postgresql://r2/k,")
    settings = Settings.from_env()
    assert settings.read_database_urls == ("postgresql://r1/k", "postgresql://r2/k")
    assert settings.replica_max_lag == DEFAULT_REPLICA_MAX_LAG
    assert settings.audit_spool == tmp_path / "audit-spool"
    monkeypatch.setenv("KOKUHO_REPLICA_MAX_LAG", "0.5")
    assert Settings.from_env().replica_max_lag == 0.5
    monkeypatch.delenv("KOKUHO_READ_DATABASE_URLS")
    assert Settings.from_env().read_database_urls == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "'abc' is not a number of seconds"),
        ("0", "must be more than 0"),
        ("-1", "must be more than 0"),
        ("3601", "at most 3600 seconds"),
    ],
)
def test_a_bad_lag_bound_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("KOKUHO_REPLICA_MAX_LAG", value)
    with pytest.raises(ValueError, match=f"KOKUHO_REPLICA_MAX_LAG: .*{message}"):
        Settings.from_env()


def test_replicas_must_be_postgresql(tmp_path: Path) -> None:
    primary = sa.create_engine(f"sqlite:///{tmp_path / 'k.db'}")
    with pytest.raises(ValueError, match="must be a PostgreSQL URL"):
        ReadRouter.from_urls(primary, [f"sqlite:///{tmp_path / 'r.db'}"])
    with pytest.raises(ValueError, match="need a PostgreSQL primary"):
        ReadRouter.from_urls(primary, ["postgresql+psycopg://postgres@127.0.0.1:1/none"])
    with pytest.raises(ValueError, match="must be positive"):
        ReadRouter(primary, max_lag=0)
    # Without replicas every read is the primary's.
    router = ReadRouter(primary)
    assert router.run(lambda c: c.execute(sa.text("select 7")).scalar()) == 7
    assert router.status() == [] and dict(router.served) == {}
    router.close()
    primary.dispose()
