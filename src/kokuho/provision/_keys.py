"""The keys of pseudonymisation (仮名化), kept on the source side only.

- The **source key** hashes what a source holds (insured numbers, kana names, birth dates)
  into source-side IDs. It lives in ``$KOKUHO_HOME/secrets/provision/source.key`` (mode 0600,
  refused when others may read it) and never in the database, the lake, the research store or
  an extract: whoever holds it can test a guessed person against the IDs.
- Each **provision key** (提供ごとの鍵) is fresh random bytes for one provision; the IDs an
  extract carries are HMAC(provision key, source ID), so two provisions of the same people
  share no ID and cannot be joined (ID5's re-hashing at each provision, §6). Keeping the key
  lets the same provision be extracted again with the same IDs; destroying it when the
  data-use term ends makes those IDs unrecomputable.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from pathlib import Path

from kokuho.config import ExposedSecretFile, Settings, read_secret

_KEY_BYTES = 32
_PROVISION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class ProvisionKeyError(ValueError):
    """A key file that is missing, unsafe or malformed."""


def key_folder() -> Path:
    """``$KOKUHO_HOME/secrets/provision``: outside the database and the lake."""
    return Settings.from_env().home / "secrets" / "provision"


def _write_new(path: Path, key: bytes) -> None:
    """Writes ``key`` to ``path``, which must not exist (FileExistsError). The key appears
    whole or not at all: it is written and synced to a temporary file (0600) in the same
    folder, which is then hard-linked to ``path``, as the first of two writers wins. Creating
    ``path`` empty and filling it afterwards left an empty key behind a kill -9, refused for
    ever, and a reader racing the writer read it empty."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key.hex())
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    finally:
        os.unlink(temporary)
    with contextlib.suppress(OSError):  # the link made durable too, where a folder syncs
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _read(path: Path) -> bytes:
    try:
        text = read_secret(path).decode("ascii").strip()
    except ExposedSecretFile as exposed:
        raise ProvisionKeyError(str(exposed)) from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ProvisionKeyError(f"{path}: not a hexadecimal key") from None
    if len(key) < _KEY_BYTES:
        raise ProvisionKeyError(f"{path}: a key must be at least {_KEY_BYTES} bytes")
    return key


def source_key(folder: Path | None = None) -> bytes:
    """The source side's key, created at random (0600) on first use."""
    path = (folder or key_folder()) / "source.key"
    if not path.exists():
        # Another process may create it first; then its key is the one.
        with contextlib.suppress(FileExistsError):
            _write_new(path, secrets.token_bytes(_KEY_BYTES))
    return _read(path)


def _provision_path(provision: str, folder: Path | None) -> Path:
    if not _PROVISION_NAME.fullmatch(provision):
        raise ValueError(f"provision id {provision!r}: letters, digits, - and _ only (≤ 64)")
    return (folder or key_folder()) / f"provision-{provision}.key"


def new_provision_key(provision: str, *, folder: Path | None = None) -> bytes:
    """A fresh random key for ``provision``; refused if the provision already has one (a new
    key would silently change every ID of its extracts)."""
    path = _provision_path(provision, folder)
    key = secrets.token_bytes(_KEY_BYTES)
    try:
        _write_new(path, key)
    except FileExistsError:
        raise ProvisionKeyError(f"provision {provision} already has a key") from None
    return key


def provision_key(provision: str, *, folder: Path | None = None) -> bytes:
    """The key of ``provision``, for extracting it again with the same IDs."""
    path = _provision_path(provision, folder)
    if not path.exists():
        raise ProvisionKeyError(f"provision {provision} has no key (never created, or destroyed)")
    return _read(path)


def destroy_provision_key(provision: str, *, folder: Path | None = None) -> bool:
    """Deletes ``provision``'s key (end of the data-use term): its IDs can no longer be
    recomputed. True when there was a key."""
    path = _provision_path(provision, folder)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
