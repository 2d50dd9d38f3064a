"""Settings from the environment. Secrets never live in the database.

- ``KOKUHO_HOME``: the working folder (default ``./var``): the SQLite file, the lake, keys, and
  ``data/``, local copies of the shipped data files read instead of them (docs/data.md).
- ``KOKUHO_DATABASE_URL``: a SQLAlchemy URL; default ``sqlite:///$KOKUHO_HOME/kokuho.db``.
- ``KOKUHO_MYNUMBER_KEY_FILE``: the HMAC key for My Number hashes (default
  ``$KOKUHO_HOME/secrets/mynumber.key``, created with mode 0600 on first use). In production
  point it at a file on a separate volume or a mounted secret.
- ``KOKUHO_SERVICE_KEY_FILE``: the eligibility service's key for card-certificate codes and
  the opaque patient handles it gives institutions (default ``$KOKUHO_HOME/secrets/service.key``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    mynumber_key_file: Path
    service_key_file: Path

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("KOKUHO_HOME", "var")).resolve()
        url = os.environ.get("KOKUHO_DATABASE_URL") or f"sqlite:///{home / 'kokuho.db'}"
        key = os.environ.get("KOKUHO_MYNUMBER_KEY_FILE") or str(home / "secrets" / "mynumber.key")
        service = os.environ.get("KOKUHO_SERVICE_KEY_FILE") or str(home / "secrets" / "service.key")
        return cls(
            home=home, database_url=url, mynumber_key_file=Path(key), service_key_file=Path(service)
        )

    def mynumber_key(self) -> bytes:
        """Reads the My Number HMAC key, creating a random one (0600) when missing."""
        return _key(self.mynumber_key_file)

    def service_key(self) -> bytes:
        """Reads the eligibility service's key, creating a random one (0600) when missing."""
        return _key(self.service_key_file)


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
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path}: a key must be at least 32 characters")
    return key.encode()
