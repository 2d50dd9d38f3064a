"""Bad input to any ``kokuho`` command ends in a one-line reason and a non-zero exit, never a
traceback (issue 11: "every command exits non-zero with a one-line reason on bad input")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from kokuho.cli import COMMANDS, LazyGroup, load, main

BAD_INTEGERS = ["99999999999999999999", "-1", "1\x00"]


def _walk(
    command: click.Command, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _walk(sub, (*path, name))


def _integer_params() -> list[tuple[tuple[str, ...], click.Command, click.Parameter]]:
    found = []
    for name, entry in sorted(COMMANDS.items()):
        for path, command in _walk(load(entry), (name,)):
            found.extend(
                (path, command, param)
                for param in command.params
                if isinstance(param.type, click.types.IntParamType)
            )
    return found


INTEGER_PARAMS = _integer_params()


def _args(command: click.Command, param: click.Parameter, value: str) -> list[str]:
    """The command line that gives ``param`` the ``value``; an earlier positional argument
    gets a placeholder (no integer argument has one today)."""
    if isinstance(param, click.Option):
        return [param.opts[0], value]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    return ["--", *(value if p is param else "x" for p in arguments[: arguments.index(param) + 1])]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_refused(result: Result, code: int, *words: str) -> None:
    """Exit ``code``, no traceback, and a last line naming every one of ``words``."""
    output = result.output
    assert result.exit_code == code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output, output
    last = output.strip().splitlines()[-1]
    assert all(word in last for word in words), output


def test_every_integer_parameter_is_bounded() -> None:
    assert len(INTEGER_PARAMS) >= 20  # the walk found the commands
    unbounded = [
        (" ".join(path), param.name)
        for path, _, param in INTEGER_PARAMS
        if not isinstance(param.type, click.IntRange)
        or param.type.min is None
        or param.type.max is None
        or param.type.max > 2**159
    ]
    assert unbounded == []


@pytest.mark.parametrize("value", BAD_INTEGERS, ids=["huge", "negative", "nul"])
@pytest.mark.parametrize(
    ("path", "command", "param"),
    INTEGER_PARAMS,
    ids=[f"{' '.join(path)}:{param.name}" for path, _, param in INTEGER_PARAMS],
)
def test_a_bad_integer_is_refused_in_one_line(
    path: tuple[str, ...], command: click.Command, param: click.Parameter, value: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    if value == "99999999999999999999" and isinstance(param.type, click.IntRange):
        assert param.type.max is not None
        if param.type.max >= int(value):
            pytest.skip("a certificate serial of 20 digits is valid; see the revoke test")
    result = run(*path, *_args(command, param, value))
    label = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
    assert_refused(result, 2, "Error: Invalid value for", label)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    monkeypatch.delenv("KOKUHO_DEBUG", raising=False)
    return tmp_path


@pytest.mark.parametrize(("args", "which"), [(["--fy", "2021"], "of FY2021 "), ([], "")])
def test_disagreements_on_an_empty_lake_name_the_missing_step(
    home: Path, args: list[str], which: str
) -> None:
    result = run("checkups", "disagreements", *args)
    assert_refused(result, 1, f"error: no checkups {which}in the lake", "kokuho checkups ingest")


def test_revoke_without_a_card_authority_names_the_missing_step(home: Path) -> None:
    result = run("cards", "revoke", "5")
    assert_refused(result, 1, "no card authority", "kokuho cards issue")
    assert not (home / "ca").exists()


@pytest.mark.parametrize("serial", ["5", "99999999999999999999"])
def test_revoking_a_serial_never_issued_is_refused(home: Path, serial: str) -> None:
    from kokuho.verify import open_authority

    now = dt.datetime.now(dt.UTC)
    open_authority(home / "ca", now)
    state = (home / "ca" / "ca_state.json").read_bytes()
    result = run("cards", "revoke", serial)
    assert_refused(result, 1, f"no card with serial {serial} was issued")
    assert (home / "ca" / "ca_state.json").read_bytes() == state  # no CRL entry written


def _broken() -> click.Group:
    group = LazyGroup(name="kokuho", lazy={})

    @group.command("broken")
    def broken() -> None:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    return group


def test_an_unexpected_error_ends_in_one_line(home: Path) -> None:
    result = CliRunner().invoke(_broken(), ["broken"])
    assert_refused(result, 1, "error: internal error (OverflowError)", "KOKUHO_DEBUG=1")
    assert "SQLite" not in result.output  # the text of an error may carry personal data


def test_kokuho_debug_shows_the_traceback(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOKUHO_DEBUG", "1")
    result = CliRunner().invoke(_broken(), ["broken"])
    assert isinstance(result.exception, OverflowError)


def test_revoking_an_issued_card_writes_its_crl_entry(home: Path) -> None:
    from kokuho.config import Settings
    from kokuho.registry import import_changes, load_insurers
    from kokuho.store import connect
    from kokuho.verify import open_authority
    from kokuho.verify._cards import authority_issuer
    from kokuho.verify._pki import VerifiedCertificate, certificate_code
    from kokuho.verify._tables import card_certificates
    from tests.feedfiles import acquire, write_changes, write_insurers

    settings = Settings.from_env()
    engine = connect(settings.database_url)
    load_insurers(engine, write_insurers(home / "i.csv"))
    import_changes(engine, write_changes(home / "c.csv", [acquire("K1", "2020-04-01")]))
    now = dt.datetime.now(dt.UTC)
    authority = open_authority(home / "ca", now)
    card = authority.issue_card(now)
    issued = VerifiedCertificate(card.serial, card.not_after, "", authority_issuer(authority))
    with engine.begin() as connection:
        connection.execute(
            card_certificates.insert().values(
                code=certificate_code(issued, settings.service_key()), person_id=1,
                not_after=card.not_after, registered_at=now,
            )
        )  # fmt: skip
    engine.dispose()
    result = run("cards", "revoke", str(card.serial))
    assert result.exit_code == 0, result.output
    assert f"{card.serial:x}" in (home / "ca" / "ca_state.json").read_text()
