"""Settings from the environment. Secrets never live in the database.

- ``KOKUHO_HOME``: the working folder (default ``./var``): the SQLite file, the lake, keys, and
  ``data/``, local copies of the shipped data files read instead of them (docs/data.md).
- ``KOKUHO_DATABASE_URL``: a SQLAlchemy URL; default ``sqlite:///$KOKUHO_HOME/kokuho.db``.
- ``KOKUHO_READ_DATABASE_URLS``: comma-separated PostgreSQL streaming replicas (読み取り
  レプリカ) that eligibility checks read from; empty (default): every read on the primary.
- ``KOKUHO_REPLICA_MAX_LAG``: seconds a replica may be behind the primary and still answer
  (default 5); an import visible on the primary reaches every answer within it.
- ``KOKUHO_AUDIT_SPOOL``: the folder where audit records wait while the primary is down
  (default ``$KOKUHO_HOME/audit-spool``; used only when replicas are configured).
- ``KOKUHO_MYNUMBER_KEY_FILE``: the HMAC key for My Number hashes (default
  ``$KOKUHO_HOME/secrets/mynumber.key``, created with mode 0600 on first use). In production
  point it at a file on a separate volume or a mounted secret.
- ``KOKUHO_SERVICE_KEY_FILE``: the eligibility service's key for card-certificate codes and
  the opaque patient handles it gives institutions (default ``$KOKUHO_HOME/secrets/service.key``).
  Like every secret file kokuho reads (:func:`read_secret`), an existing key file that group
  or others may access is refused (POSIX), as ssh refuses such a private key.
- ``KOKUHO_ANALYTICS``: the engine the lakes' Ibis expressions run on (分析エンジン): ``duckdb``
  (default, embedded) or ``spark`` (Apache Spark through PySpark; docs/operations.md).
- ``KOKUHO_SPARK_MASTER``: with ``spark``, the master URL: ``local[*]`` (default, in this
  process), ``local[N]``, ``spark://host:port`` (a standalone cluster), ``yarn`` or
  ``k8s://https://host:port``. A SparkSession already running in the process is used as it is.
- ``KOKUHO_GC_THRESHOLDS``: each server process's garbage-collector thresholds once started
  (``gc.set_threshold``), three integers ``g0,g1,g2`` (default ``50000,20,20``), or ``python``
  to keep the interpreter's own (700,10,10).
- ``KOKUHO_GC_FREEZE``: ``1`` (default): once started, each server process moves what it holds
  (modules, metadata, caches) out of the collector's sight (``gc.freeze``); ``0``: it does not.
- ``KOKUHO_TELEMETRY``: ``0`` (default): FastAPI's native OpenTelemetry is off, so no request
  pays its look-up of the global providers (about 7 µs each; kokuho ships no OpenTelemetry SDK,
  so they are never configured); ``1``: on, for an operator who installs and configures one.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: The engines ``KOKUHO_ANALYTICS`` may name (a closed set: anything else is refused).
ANALYTICS_ENGINES: Final = ("duckdb", "spark")
DEFAULT_SPARK_MASTER: Final = "local[*]"
# The master URL forms Spark itself accepts (SparkContext's master parsing).
_SPARK_MASTER: Final = re.compile(
    r"local(\[(\*|[1-9][0-9]*)(,[1-9][0-9]*)?\])?"
    r"|spark://[A-Za-z0-9.\-]+:[0-9]{1,5}(,[A-Za-z0-9.\-]+:[0-9]{1,5})*"
    r"|yarn"
    r"|k8s://(https?://)?[A-Za-z0-9.\-]+(:[0-9]{1,5})?"
)


class SettingError(ValueError):
    """A setting in the environment has a value kokuho does not accept."""


class ExposedSecretFile(SettingError):
    """A secret file (a key, a credential) that group or others may access. A setting the
    operator fixes (``chmod 600``): the command line shows its text, which names the file."""


def read_secret(path: Path) -> bytes:
    """The bytes of a secret file: a key or a credential token. On POSIX a file that group or
    others have any permission on is refused with :class:`ExposedSecretFile` (as ssh refuses
    such a private key): whoever else could read it has the key, so it is no longer one, and
    reading it on would hide that. kokuho writes its own secret files 0600."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        # The mode of the file opened (fstat), not of whatever the name points to later.
        mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
        if os.name == "posix" and mode & 0o077:
            raise ExposedSecretFile(
                f"{path}: group or others may access this secret file (mode {mode:03o}); "
                f"it is not used until only its owner may: chmod 600 {path}"
            )
        return handle.read()


def analytics_engine(value: str | None) -> str:
    """The engine named by ``KOKUHO_ANALYTICS`` (``duckdb`` when unset or empty)."""
    name = (value or "duckdb").strip().lower()
    if name not in ANALYTICS_ENGINES:
        raise SettingError(
            f"KOKUHO_ANALYTICS={value!r}: must be one of {', '.join(ANALYTICS_ENGINES)}"
        )
    return name


def spark_master(value: str | None) -> str:
    """The Spark master named by ``KOKUHO_SPARK_MASTER`` (``local[*]`` when unset or empty)."""
    master = (value or DEFAULT_SPARK_MASTER).strip()
    if _SPARK_MASTER.fullmatch(master) is None:
        raise SettingError(
            f"KOKUHO_SPARK_MASTER={value!r}: expected local, local[*], local[N], "
            "spark://host:port, yarn or k8s://host:port"
        )
    return master


#: Seconds a replica may be behind the primary and still answer checks.
DEFAULT_REPLICA_MAX_LAG = 5.0

#: A server process's collector thresholds once started (``KOKUHO_GC_THRESHOLDS``). Under load
#: the objects of the requests in flight pass Python's 700 about every dozen checks: a young
#: collection that frees nothing (reference counting frees them), and, every few dozen seconds,
#: a full collection of the whole heap that stops every check for a few hundred milliseconds
#: (docs/operations.md, "Serving"). At 50,000 a young collection is rare and a full one rarer.
DEFAULT_GC_THRESHOLDS: Final = (50_000, 20, 20)
_COUNT: Final = re.compile(r"[1-9][0-9]{0,7}")  # ASCII digits only, no leading zero


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    mynumber_key_file: Path
    service_key_file: Path
    analytics: str = "duckdb"
    spark_master: str = DEFAULT_SPARK_MASTER
    read_database_urls: tuple[str, ...] = ()
    replica_max_lag: float = DEFAULT_REPLICA_MAX_LAG
    audit_spool: Path | None = None  # used only with read replicas
    #: One server process per home (the first to lock ``dashboard-warm-up.lock``, see
    #: ``kokuho.web._app.claim_warm_up``) starts the dashboard's common figures at start-up.
    #: Service nodes that only answer checks turn it off: over a national register the
    #: register overview is seconds of CPU, taken from the checks (docs/operations.md).
    dashboard_warm_up: bool = True
    #: ``gc.set_threshold`` once a server process has started; None: Python's own.
    gc_thresholds: tuple[int, int, int] | None = DEFAULT_GC_THRESHOLDS
    #: ``gc.freeze`` once a server process has started.
    gc_freeze: bool = True
    #: FastAPI's native OpenTelemetry (``KOKUHO_TELEMETRY``; ``kokuho.web``'s app when off).
    telemetry: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("KOKUHO_HOME", "var")).resolve()
        url = os.environ.get("KOKUHO_DATABASE_URL") or f"sqlite:///{home / 'kokuho.db'}"
        key = os.environ.get("KOKUHO_MYNUMBER_KEY_FILE") or str(home / "secrets" / "mynumber.key")
        service = os.environ.get("KOKUHO_SERVICE_KEY_FILE") or str(home / "secrets" / "service.key")
        reads = os.environ.get("KOKUHO_READ_DATABASE_URLS", "")
        spool = os.environ.get("KOKUHO_AUDIT_SPOOL") or str(home / "audit-spool")
        return cls(
            home=home,
            database_url=url,
            mynumber_key_file=Path(key),
            service_key_file=Path(service),
            analytics=analytics_engine(os.environ.get("KOKUHO_ANALYTICS")),
            spark_master=spark_master(os.environ.get("KOKUHO_SPARK_MASTER")),
            read_database_urls=tuple(u.strip() for u in reads.split(",") if u.strip()),
            replica_max_lag=_seconds("KOKUHO_REPLICA_MAX_LAG", DEFAULT_REPLICA_MAX_LAG),
            audit_spool=Path(spool),
            dashboard_warm_up=_switch("KOKUHO_DASHBOARD_WARM_UP", default=True),
            gc_thresholds=gc_thresholds(os.environ.get("KOKUHO_GC_THRESHOLDS")),
            gc_freeze=_switch("KOKUHO_GC_FREEZE", default=True),
            telemetry=_switch("KOKUHO_TELEMETRY", default=False),
        )

    def mynumber_key(self) -> bytes:
        """Reads the My Number HMAC key, creating a random one (0600) when missing."""
        return _key(self.mynumber_key_file)

    def service_key(self) -> bytes:
        """Reads the eligibility service's key, creating a random one (0600) when missing."""
        return _key(self.service_key_file)


def _switch(name: str, *, default: bool) -> bool:
    """An on/off setting: exactly ``1`` or ``0`` (unset: ``default``)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw not in ("0", "1"):
        raise ValueError(f"{name}: {raw!r} must be 1 (on) or 0 (off)")
    return raw == "1"


def gc_thresholds(value: str | None) -> tuple[int, int, int] | None:
    """The thresholds named by ``KOKUHO_GC_THRESHOLDS``: ``g0,g1,g2`` (unset or empty: the
    default), or None for ``python`` (the interpreter's own are kept)."""
    raw = (value or "").strip()
    if not raw:
        return DEFAULT_GC_THRESHOLDS
    if raw.lower() == "python":
        return None
    parts = raw.split(",")
    # 0 would turn automatic collection off: cycles (exceptions and their tracebacks, for
    # one) would then pile up for the life of the worker.
    if len(parts) != 3 or not all(_COUNT.fullmatch(p.strip()) for p in parts):
        raise SettingError(
            f"KOKUHO_GC_THRESHOLDS={value!r}: expected three positive integers g0,g1,g2 "
            "(e.g. 50000,20,20) or python"
        )
    g0, g1, g2 = (int(p) for p in parts)
    if g0 > 10_000_000 or g1 > 10_000 or g2 > 10_000:
        raise SettingError(
            f"KOKUHO_GC_THRESHOLDS={value!r}: at most 10000000 for g0 and 10000 for g1 and g2"
        )
    return g0, g1, g2


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise ValueError(f"{name}: {raw!r} must be more than 0 and at most 3600 seconds")
    return value


def _key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    key = read_secret(path).decode().strip()
    if len(key) < 32:
        raise ValueError(f"{path}: a key must be at least 32 characters")
    return key.encode()
