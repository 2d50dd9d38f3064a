"""The rooms of docs/architecture.md and their one-way arrows, checked on the real imports."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "kokuho"

# What each room may import (besides itself and kokuho.config / the top-level package).
ALLOWED: dict[str, set[str]] = {
    "ids": set(),
    "store": {"ids"},
    "registry": {"ids", "store"},
    "synth": {"ids", "store", "registry", "checkups", "claims", "care"},
    "verify": {"ids", "store", "registry"},
    "checkups": {"ids", "store", "registry"},
    "claims": {"ids", "store", "registry"},
    "care": {"ids", "store", "registry"},
    "premiums": {"ids", "store", "registry", "claims"},
    "incentives": {"ids", "store", "registry", "checkups", "claims", "premiums"},
    "provision": {"ids", "store", "registry", "checkups", "claims", "care"},
    "boundary": {"ids", "store", "registry", "premiums"},
    "web": {
        "ids",
        "store",
        "registry",
        "verify",
        "checkups",
        "claims",
        "premiums",
        "incentives",
        "provision",
        "boundary",
        "care",
    },  # fmt: skip
    "cli": {
        "ids",
        "store",
        "registry",
        "synth",
        "verify",
        "web",
        "checkups",
        "claims",
        "care",
        "premiums",
        "incentives",
        "provision",
        "boundary",
    },
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in names if name.startswith("kokuho.")]


def _room(path: Path) -> str | None:
    relative = path.relative_to(SRC)
    return relative.parts[0] if len(relative.parts) > 1 else None


def test_every_room_is_declared() -> None:
    rooms = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert rooms <= set(ALLOWED), f"add {rooms - set(ALLOWED)} to ALLOWED and the docs"


def test_imports_follow_the_arrows_and_respect_privacy() -> None:
    problems = []
    for path in SRC.rglob("*.py"):
        room = _room(path)
        if room is None or room not in ALLOWED or "migrations" in path.parts:
            continue
        for name in _imports(path):
            parts = name.split(".")
            target = parts[1]
            if target in (room, "config", "__version__") or not (SRC / target).is_dir():
                continue
            if target not in ALLOWED[room]:
                problems.append(f"{path.relative_to(SRC)} imports {name} against the arrows")
            elif any(part.startswith("_") for part in parts[2:3]):
                problems.append(f"{path.relative_to(SRC)} imports the private {name}")
    assert problems == []


def test_ids_is_pure() -> None:
    forbidden = {"sqlalchemy", "click", "os", "pathlib", "socket", "open"}
    for path in (SRC / "ids").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert not modules & forbidden, f"{path.name} does I/O: {modules & forbidden}"


def test_no_module_imports_a_siblings_private_names() -> None:
    """A name one module keeps to itself (``_name``) is not imported by another: a name shared
    within a context is public in its private module (docs/architecture.md). Importing a
    private module itself (``from kokuho.x import _module``) is the context's own business."""
    problems = []
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
                continue
            if not node.module.startswith("kokuho."):
                continue
            base = SRC.parent.joinpath(*node.module.split("."))
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                is_module = (base / f"{alias.name}.py").exists() or (base / alias.name).is_dir()
                if private and not is_module:
                    problems.append(f"{path.relative_to(SRC)} imports {node.module}.{alias.name}")
    assert problems == []
