"""Bad files fed to the import commands as staff would send them (session 11's probe): each ends
in a one-line reason naming the file, never in ``internal error``; nothing is half written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kokuho.cli import main
from tests.feedfiles import FEED_COLUMNS, KYOKAI, acquire, write_csv, write_insurers


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    result = invoke("registry", "insurers", str(write_insurers(tmp_path / "i.csv")))
    assert result.exit_code == 0, result.output
    return tmp_path


def _feed_bytes(tmp_path: Path) -> bytes:
    path = write_csv(tmp_path / "plain.csv", FEED_COLUMNS, [acquire("E1", "2021-04-01")])
    return path.read_bytes()


def _cr_only(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\r")  # old Mac line ends


def _utf16(data: bytes) -> bytes:
    return data.decode("utf-8").encode("utf-16")  # Excel's 'Unicode text'


def _bad_byte_at_header_end(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\r\xed\xa0\x80\n", 1)  # a lone surrogate's bytes


@pytest.mark.parametrize("spoil", [_utf16, _bad_byte_at_header_end])
@pytest.mark.parametrize("command", [("registry", "import"), ("dependants", "check")])
def test_a_feed_with_odd_line_ends_or_encoding_is_refused_naming_the_file(
    home: Path, command: tuple[str, ...], spoil: object
) -> None:
    assert callable(spoil)
    path = home / f"{KYOKAI}_2021-04 odd.csv"
    path.write_bytes(spoil(_feed_bytes(home)))
    result = invoke(*command, str(path))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert str(path) in result.output


def test_a_feed_with_cr_line_ends_is_read_like_one_with_crlf(home: Path) -> None:
    path = home / f"{KYOKAI}_2021-04.csv"
    path.write_bytes(_cr_only(_feed_bytes(home)))
    checked = invoke("dependants", "check", str(path))
    assert checked.exit_code == 0, checked.output
    assert "1 other row(s)" in checked.output  # the 本人 acquire, read as a feed row
    imported = invoke("registry", "import", "--no-reassess", str(path))
    assert imported.exit_code == 0, imported.output
    assert "1 applied" in imported.output
