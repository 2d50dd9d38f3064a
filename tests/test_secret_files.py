"""Secret files (the My Number and service keys, the simulated JPKI keys, a terminal's
credential token) are read only when their owner alone may access them, as ssh reads a private
key: an existing file with any group or other permission bit is refused with the file named
and the fix (``chmod 600 <file>``). New ones are written 0600 and read as before."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.config import ExposedSecretFile, Settings, read_secret
from kokuho.verify._pki_sim import Card, CardAuthority, Terminal

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def _settings(home: Path) -> Settings:
    secrets = home / "secrets"
    return Settings(home, "", secrets / "mynumber.key", secrets / "service.key")


def test_new_keys_are_0600_and_read(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    key = settings.mynumber_key()
    assert stat.S_IMODE(settings.mynumber_key_file.stat().st_mode) == 0o600
    assert settings.mynumber_key() == key and len(key) == 64
    assert settings.service_key() != key
    assert stat.S_IMODE(settings.service_key_file.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o601, 0o610], ids=oct)
def test_an_existing_key_others_may_access_is_refused(tmp_path: Path, mode: int) -> None:
    settings = _settings(tmp_path)
    key = settings.mynumber_key()
    path = settings.mynumber_key_file
    path.chmod(mode)
    with pytest.raises(ExposedSecretFile) as refused:
        settings.mynumber_key()
    message = str(refused.value)
    assert str(path) in message and f"chmod 600 {path}" in message and f"{mode:03o}" in message
    # The fix the message gives is enough: the same key is read again.
    path.chmod(0o600)
    assert settings.mynumber_key() == key
    path.chmod(0o400)  # owner read-only is fine too
    assert settings.mynumber_key() == key


def test_a_command_says_which_key_and_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("KOKUHO_HOME", str(home))
    monkeypatch.setenv("KOKUHO_DATABASE_URL", f"sqlite:///{home / 'kokuho.db'}")
    monkeypatch.delenv("KOKUHO_MYNUMBER_KEY_FILE", raising=False)
    key = home / "secrets" / "mynumber.key"
    key.parent.mkdir(parents=True)
    key.write_text("k" * 64)
    key.chmod(0o644)
    residents = tmp_path / "residents.csv"
    residents.write_text("")
    result = CliRunner().invoke(main, ["residents", "load", str(residents)])
    assert result.exit_code == 1
    assert f"chmod 600 {key}" in result.stderr and "internal error" not in result.stderr
    assert key.read_text() == "k" * 64  # refused, not replaced


def test_the_oqs_agent_refuses_a_credential_file_others_may_read(tmp_path: Path) -> None:
    token = tmp_path / "clinic.token"
    token.write_text("kc_0123456789abcdef.secret\n")
    token.chmod(0o644)
    folders = ["--req", str(tmp_path / "req"), "--res", str(tmp_path / "res")]
    command = ["oqs-agent", *folders, "--url", "http://127.0.0.1:9",
               "--credential-file", str(token), "--once"]  # fmt: skip
    refused = CliRunner().invoke(main, command)
    assert refused.exit_code == 1
    assert f"chmod 600 {token}" in refused.stderr and "internal error" not in refused.stderr
    token.chmod(0o600)
    answered = CliRunner().invoke(main, command)  # nothing in req: the service is not asked
    assert answered.exit_code == 0, answered.output
    assert "0 response file(s)" in answered.stdout


def test_simulated_jpki_keys_others_may_read_are_refused(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    authority = CardAuthority.create("test CA", now)
    authority.save(tmp_path / "ca")
    card_path = authority.issue_card(now).save(tmp_path / "cards")
    terminal_path = Terminal.create("reader-1").save(tmp_path)
    CardAuthority.load(tmp_path / "ca")  # 0600 as written: read
    for path in (tmp_path / "ca" / "ca_key.pem", card_path, terminal_path):
        path.chmod(0o644)
        with pytest.raises(ExposedSecretFile, match="chmod 600"):
            read_secret(path)
    with pytest.raises(ExposedSecretFile):
        CardAuthority.load(tmp_path / "ca")
    with pytest.raises(ExposedSecretFile):
        Terminal.load(terminal_path)
    with pytest.raises(ExposedSecretFile):
        Card.load(card_path)
