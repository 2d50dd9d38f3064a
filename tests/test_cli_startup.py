"""``kokuho`` imports a sub-command's module only when that command runs (issue 11).

The start-up itself is timed in benchmarks/bench_cli_startup.py, not here: what is tested is
what makes it fast (which modules a command imports) and that the lazy table cannot drift
from the commands it names.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import click
import pytest
from click.testing import CliRunner

from kokuho.cli import COMMANDS, LazyGroup, load, main

# What a command without the database, the lake or the web app has no use for, and each costs
# tens to hundreds of milliseconds to import (issue 11 measured 2.6 s in all).
HEAVY = {
    "alembic", "cryptography", "duckdb", "fastapi", "fhir", "ibis", "jinja2", "lxml", "numpy",
    "openpyxl", "pandas", "psycopg", "py4j", "pyarrow", "pydantic", "pyspark", "rich",
    "sqlalchemy", "starlette", "uvicorn", "yaml",
}  # fmt: skip
_RUN = textwrap.dedent(
    """
    import json, sys
    from kokuho.cli import main
    try:
        code = main(sys.argv[1:], standalone_mode=False)
    except SystemExit as exit:
        code = exit.code
    print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
    """
)


def _modules_after(*args: str) -> tuple[str, list[str]]:
    """(what the command printed, the modules it left imported), from a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *args], capture_output=True, text=True, check=True
    )
    printed, _, last = done.stdout.rstrip("\n").rpartition("\n")
    report = json.loads(last)
    assert report["code"] in (0, None), done.stdout + done.stderr
    return printed, report["modules"]


def _heavy(modules: list[str]) -> list[str]:
    return sorted({name.split(".")[0] for name in modules} & HEAVY)


def _kokuho(modules: list[str]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] == "kokuho")


@pytest.mark.parametrize("args", [("--help",), ("-h",), ("--version",)])
def test_help_and_version_import_no_command_module(args: tuple[str, ...]) -> None:
    printed, modules = _modules_after(*args)
    assert _heavy(modules) == []
    assert _kokuho(modules) == ["kokuho", "kokuho.cli", "kokuho.cli._commands"]
    assert printed.startswith("Usage:" if args != ("--version",) else "kokuho, version")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("ids", "check", "insurer", "370015"), "valid insurer number 370015"),
        (("ids", "check", "institution", "0110113719"), "valid institution code 0110113719"),
        (("ids", "wareki", "5010501"), "5010501 = 2019-05-01 (令和元年5月1日)"),
        (("ids", "--help"), "Usage:"),
    ],
)
def test_ids_imports_only_ids_and_its_output(args: tuple[str, ...], expected: str) -> None:
    printed, modules = _modules_after(*args)
    assert printed.startswith(expected)
    assert _heavy(modules) == []
    allowed = {"kokuho", "kokuho.config", "kokuho.ids"} | {
        f"kokuho.cli{part}" for part in ("", "._commands", "._ids", "._output")
    }
    outside = [n for n in _kokuho(modules) if n not in allowed and not n.startswith("kokuho.ids.")]
    assert outside == []


# Commands whose module keeps its rooms' imports inside the functions that use them, so their
# help is as quick as the top-level one. (registry, residents, mynumber and the service's
# commands import their rooms at module level: every one of their sub-commands needs the
# database.)
LIGHT_HELP = [
    "checkups", "claims", "dashboard", "demo", "dependants", "grants", "ids", "incentives",
    "synth",
]  # fmt: skip


@pytest.mark.parametrize("name", LIGHT_HELP)
def test_the_help_of_a_light_command_imports_nothing_heavy(name: str) -> None:
    printed, modules = _modules_after(name, "--help")
    assert printed.startswith("Usage:")
    assert _heavy(modules) == []


def test_the_listing_is_the_one_the_imported_commands_give() -> None:
    lazy = LazyGroup("kokuho", lazy=COMMANDS)
    eager = click.Group("kokuho", commands={name: load(entry) for name, entry in COMMANDS.items()})
    # A narrow terminal shortens most lines, a wide one none: both must agree.
    for width in (50, 80, 400):
        texts = [
            group.get_help(click.Context(group, terminal_width=width, max_content_width=width))
            for group in (lazy, eager)
        ]
        assert texts[0] == texts[1]
    assert lazy.commands == {}, "listing the commands imported them"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_entry_names_its_command_and_its_short_help(name: str) -> None:
    entry = COMMANDS[name]
    command = load(entry)
    assert command.name == name
    assert not command.hidden
    assert command.get_short_help_str(limit=sys.maxsize) == entry.short_help


def _paths(group: click.Group, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    found = []
    for name in group.list_commands(click.Context(group)):
        command = group.get_command(click.Context(group), name)
        assert command is not None, f"{' '.join(prefix)} lists {name} but has no such command"
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _paths(command, (*prefix, name))
    return found


def test_every_command_and_sub_command_answers_help() -> None:
    paths = _paths(main, ())
    assert {path[0] for path in paths} == set(COMMANDS)
    for path in paths:
        result = CliRunner().invoke(main, [*path, "--help"], prog_name="kokuho")
        assert result.exit_code == 0, (path, result.output)
        assert result.stdout.startswith(f"Usage: kokuho {' '.join(path)} ")


def test_an_unknown_command_is_a_usage_error_that_imports_nothing() -> None:
    lazy = LazyGroup("kokuho", lazy=COMMANDS)
    result = CliRunner().invoke(lazy, ["idz", "check"])
    assert result.exit_code == 2
    assert "No such command 'idz'" in result.stderr
    assert lazy.commands == {}


def test_a_table_entry_that_is_not_a_command_is_refused() -> None:
    with pytest.raises(TypeError, match=r"kokuho\.cli\._output\.emit_json is not a click command"):
        load(COMMANDS["ids"]._replace(module="_output", attribute="emit_json"))
