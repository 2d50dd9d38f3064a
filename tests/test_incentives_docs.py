"""The examples of docs/incentives.md run and print what the page says: the ``pycon`` blocks
as doctests, the ``console`` blocks against the CLI (also run by test_docs.py once the
commands are registered on ``kokuho``)."""

from __future__ import annotations

import doctest
import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.cli._incentives import grants, incentives

PAGE = Path(__file__).resolve().parents[1] / "docs" / "incentives.md"
TEXT = PAGE.read_text(encoding="utf-8")
PYCON = re.findall(r"```pycon\n(.*?)```", TEXT, re.S)
CONSOLE = re.findall(r"```console\n(.*?)```", TEXT, re.S)


def _cli() -> click.Group:
    group = click.Group(commands=dict(main.commands))
    group.add_command(incentives)
    group.add_command(grants)
    return group


def _console_examples() -> list[tuple[str, str]]:
    found = []
    for block in CONSOLE:
        command, output = None, []
        for line in block.splitlines() + ["$ "]:
            if line.startswith("$ "):
                if command is not None:
                    found.append((command, "\n".join(output)))
                command, output = line[2:], []
            else:
                output.append(line)
    return found


def test_the_page_has_examples_of_each_kind() -> None:
    assert len(PYCON) >= 4 and len(_console_examples()) >= 4


@pytest.mark.parametrize("block", PYCON, ids=[f"pycon{i}" for i in range(len(PYCON))])
def test_pycon_example(block: str) -> None:
    test = doctest.DocTestParser().get_doctest(block, {}, "incentives.md", str(PAGE), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0, block


@pytest.mark.parametrize(("command", "expected"), _console_examples())
def test_console_example(command: str, expected: str) -> None:
    words = shlex.split(command)
    assert words[0] == "kokuho"
    result = CliRunner().invoke(_cli(), words[1:])
    assert (result.stdout + result.stderr).strip() == expected.strip(), command
    assert result.exit_code == 0
