"""SQLite: a command that writes while another holds the database's write lock past the busy
wait (10 s; shortened here) is refused in one line saying so, exit code 1, never ``internal
error``. Found with a holder of ``BEGIN IMMEDIATE`` beside `kokuho registry import`,
`kokuho institutions load` and `kokuho credentials issue`: each ended in ``error: internal error
(OperationalError)``, as if kokuho were broken, where running it again later is the remedy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.registry import load_insurers
from kokuho.verify import load_institutions
from tests.busywait import short_busy_wait, sqlite_home, write_lock_held
from tests.cardholders import write_institutions
from tests.feedfiles import acquire, write_changes, write_insurers

CLINIC = "3710100011"


def _feed(folder: Path) -> list[str]:
    path = write_changes(folder / "changes.csv", [acquire("K1", "2020-04-01")])
    return ["registry", "import", "--no-reassess", str(path)]


def _institutions(folder: Path) -> list[str]:
    path = write_institutions(folder / "more.csv", {"3710100029": "香川第二クリニック"})
    return ["institutions", "load", str(path)]


def _credential(folder: Path) -> list[str]:
    return ["credentials", "issue", "--institution", CLINIC, "--label", "受付端末1"]


@pytest.mark.parametrize(
    "command", [_feed, _institutions, _credential], ids=["registry", "institutions", "credential"]
)
def test_a_writer_held_back_past_the_busy_wait_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: Callable[[Path], list[str]]
) -> None:
    home = tmp_path / "home"
    engine = sqlite_home(home, monkeypatch)
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    load_institutions(engine, write_institutions(tmp_path / "inst.csv", {CLINIC: "香川クリニック"}))
    engine.dispose()
    short_busy_wait(monkeypatch)
    args = command(tmp_path)
    with write_lock_held(home / "kokuho.db"):
        held = CliRunner().invoke(main, args)
    assert held.exit_code == 1
    assert "internal error" not in held.output
    assert "another command is writing the database" in held.output
    assert "run this one again" in held.output
    assert len(held.output.strip().splitlines()) == 1
    # Run again once the lock is free: it goes through.
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
