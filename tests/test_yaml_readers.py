"""Every reader of kokuho's YAML goes through ``store.load_yaml`` / ``store.compose_yaml``, whose
loader refuses a document whose aliases expand it past a million values ("billion laughs"):
loaded into Python objects or composed into the nodes a node-by-node reader walks, nine lines
of anchors are 10**9 values. Each reader refuses such a file quickly, in little memory, and
names the file."""

from __future__ import annotations

import ast
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kokuho.boundary._residency_rules import parse_residency_rules
from kokuho.checkups._exclusions import exclusion_reasons
from kokuho.checkups._programme_rules import parse_rules as parse_programme_rules
from kokuho.checkups._reduction import load_reduction_inputs
from kokuho.checkups._rules import parse_rules as parse_checkup_rules
from kokuho.checkups._targets import load_targets
from kokuho.claims._generic import load_generic_classes
from kokuho.claims._indicator_rules import load_prescribing_rules
from kokuho.claims._reference import parse_reference
from kokuho.incentives import load_rules
from kokuho.premiums._levy_yaml import parse_document
from kokuho.premiums._rules import load_rules_file
from kokuho.provision._catalogue import parse_catalogue
from kokuho.provision._id_fields import parse_id_fields
from kokuho.store import YamlNode, compose_yaml, load_yaml

SRC = Path(__file__).resolve().parents[1] / "src" / "kokuho"

#: 9 ** 9 (387 million) values once the aliases are expanded, in nine lines.
BOMB = "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"x{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]\n" for n in range(1, 9)
)


def _from_path(read: Callable[[Path], Any]) -> Callable[[str, Path], Any]:
    def run(text: str, path: Path) -> Any:
        path.write_text(text, "utf-8")
        return read(path)

    return run


def _from_text(read: Callable[[str, str], Any]) -> Callable[[str, Path], Any]:
    return lambda text, path: read(text, str(path))


READERS: dict[str, Callable[[str, Path], Any]] = {
    "store.load_yaml": _from_text(load_yaml),
    "store.compose_yaml": _from_text(compose_yaml),
    "store.YamlNode.compose": _from_text(YamlNode.compose),
    "premiums levy file (node by node)": _from_text(parse_document),
    "boundary residency rules (node by node)": _from_text(parse_residency_rules),
    "premiums rule file": _from_path(load_rules_file),
    "incentives rule file": _from_path(load_rules),
    "claims reference population": _from_text(parse_reference),
    "claims prescribing rules": _from_path(load_prescribing_rules),
    "claims generic classes": _from_path(load_generic_classes),
    "checkups targets": _from_path(load_targets),
    "checkups exclusion reasons": _from_path(exclusion_reasons),
    "checkups reduction inputs": _from_path(load_reduction_inputs),
    "checkups rules": _from_text(parse_checkup_rules),
    "checkups programme rules": _from_text(parse_programme_rules),
    "provision linkage id fields": _from_text(parse_id_fields),
    "provision catalogue": _from_text(lambda text, name: parse_catalogue(text, name=name)),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_billion_laughs_is_refused_naming_the_file(reader: str, tmp_path: Path) -> None:
    path = tmp_path / "local-rules.yaml"
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as refused:  # noqa: PT011 (each reader its own error)
            READERS[reader](BOMB, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 10
    assert peak < 20_000_000
    message = str(refused.value)
    assert "its aliases expand it past 1,000,000 values" in message
    assert str(path) in message


def test_anchors_within_the_limit_read_as_before() -> None:
    text = "a: &one [1, 2]\nb: *one\nc: *one\n"
    assert load_yaml(text, "x.yaml") == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}
    node = compose_yaml(text, "x.yaml")
    assert node is not None and node.start_mark.name == "x.yaml"


def test_no_module_reads_yaml_but_through_the_limited_loader() -> None:
    """``yaml.safe_load``, ``yaml.compose`` and the like are called in store/_yaml_loader.py
    only: a reader that called them itself would read a billion laughs unlimited."""
    readers = {"load", "safe_load", "full_load", "unsafe_load", "compose", "parse", "scan"}
    readers |= {f"{name}_all" for name in readers}
    offenders = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "store" / "_yaml_loader.py":
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            called = (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "yaml"
                and node.attr in readers
            )
            imported = (
                isinstance(node, ast.ImportFrom)
                and node.module == "yaml"
                and any(alias.name in readers for alias in node.names)
            )
            if called or imported:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []
