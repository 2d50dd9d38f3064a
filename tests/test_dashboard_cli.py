"""``kokuho dashboard users``: add and list dashboard users from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kokuho.cli._dashboard import dashboard
from kokuho.registry import load_insurers
from kokuho.store import connect
from kokuho.web.dashboard import authenticate
from tests.feedfiles import KOKUHO, write_insurers


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    engine = connect(f"sqlite:///{tmp_path / 'kokuho.db'}")
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    engine.dispose()
    return tmp_path


def test_users_are_added_and_listed(home: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        dashboard,
        ["users", "add", "takamatsu-hoken", "--role", "municipal", "--insurer", KOKUHO,
         "--name", "高松市 保険年金課", "--password-stdin", "--json"],
        input="a long enough secret\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["municipality_code"] == "372013"
    prompted = runner.invoke(
        dashboard, ["users", "add", "pref", "--role", "prefecture"],
        input="another long secret\nanother long secret\n",
    )  # fmt: skip
    assert prompted.exit_code == 0 and "added pref (prefecture)" in prompted.stdout
    listed = json.loads(runner.invoke(dashboard, ["users", "list", "--json"]).stdout)
    assert [(u["username"], u["role"], u["insurer_number"]) for u in listed] == [
        ("pref", "prefecture", None),
        ("takamatsu-hoken", "municipal", KOKUHO),
    ]
    assert "a long enough secret" not in json.dumps(listed)
    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    assert authenticate(engine, "takamatsu-hoken", "a long enough secret").user is not None
    engine.dispose()


def test_a_bad_user_fails_with_one_line(home: Path) -> None:
    result = CliRunner().invoke(
        dashboard,
        ["users", "add", "x", "--role", "municipal", "--insurer", "01370014", "--password-stdin"],
        input="a long enough secret\n",
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: 01370014 is not a 市町村国保 in the register"
