"""The console examples in docs/ run against the real CLI and must print what the docs say."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from kokuho.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs"
_BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def _examples() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(DOCS.glob("*.md")):
        for block in _BLOCK.findall(path.read_text(encoding="utf-8")):
            command, output = None, []
            for line in block.splitlines() + ["$ "]:
                if line.startswith("$ "):
                    if command is not None:
                        found.append((path.name, command, "\n".join(output)))
                    command, output = line[2:], []
                else:
                    output.append(line)
    return found


EXAMPLES = _examples()


def test_the_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize(("doc", "command", "expected"), EXAMPLES)
def test_console_example(doc: str, command: str, expected: str) -> None:
    words = shlex.split(command)
    assert words[0] == "kokuho", f"{doc}: examples start with kokuho"
    result = CliRunner().invoke(main, words[1:])
    printed = (result.stdout + result.stderr).strip()
    assert printed == expected.strip(), f"{doc}: {command}"
    assert result.exit_code == (1 if expected.startswith("invalid:") else 0)
