"""The data files shipped with kokuho (同梱データ: rule files, tables, placeholders) and the local
copies that replace them.

Every loader reads its file through ``data_text`` or ``data_path`` with the path relative to
``kokuho/data`` (``"prescribing_rules.yaml"``, ``"incentives/fy2021.yaml"``). A file of the same
relative path under ``$KOKUHO_HOME/data/`` is read instead of the shipped one, so an office can
put its official figures in place without editing the installed package (docs/data.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from kokuho.config import Settings
from kokuho.store._yaml_loader import load_yaml

OVERRIDE_FOLDER = "data"
_YAML_SUFFIXES = (".yaml", ".yml")


class DataFileError(ValueError):
    """A data file (shipped or override) that cannot be read, named with file and line."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {reason}")


def shipped_folder() -> Path:
    """``kokuho/data`` inside the installed package."""
    return Path(str(resources.files("kokuho").joinpath("data")))


def override_folder() -> Path:
    """``$KOKUHO_HOME/data``: where local copies of the data files go."""
    return Settings.from_env().home / OVERRIDE_FOLDER


def _relative(relative: str) -> Path:
    path = Path(relative)
    # A loader names a file inside kokuho/data; anything else is a programming error.
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"data file {relative!r}: give a path relative to kokuho/data")
    return path


def override_of(relative: str) -> Path | None:
    """The local copy of ``relative`` under ``$KOKUHO_HOME/data``, if there is one."""
    candidate = override_folder() / _relative(relative)
    return candidate if candidate.exists() else None


def data_path(relative: str) -> Path:
    """The file (or folder) ``relative`` to read: the local copy when there is one, else the
    shipped one. A folder is taken whole from ``$KOKUHO_HOME/data`` when that folder exists."""
    return override_of(relative) or shipped_folder() / _relative(relative)


def data_text(relative: str) -> str:
    """The UTF-8 text of data file ``relative`` (the local copy when there is one).

    A local YAML copy that does not parse is refused here, naming the copy and the line, so
    no loader goes on to fail with a message that names neither.
    """
    path = data_path(relative)
    text = read_utf8(path)
    if path.suffix in _YAML_SUFFIXES and override_of(relative) is not None:
        parse_yaml(text, path)
    return text


def read_utf8(path: Path) -> str:
    """The text of ``path``; bytes that are not UTF-8 are reported with their line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataFileError(path, 0, error.strerror or str(error)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataFileError(path, line, "not UTF-8 text") from None


def parse_yaml(text: str, path: Path) -> object:
    """``text`` parsed with the safe loader; a syntax error names ``path`` and its line."""
    try:
        return load_yaml(text, str(path))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise DataFileError(path, line, f"not valid YAML: {reason}") from None


@dataclass(frozen=True, slots=True)
class DataFile:
    """One shipped data file and where kokuho reads it from."""

    relative: str  # path under kokuho/data, "/"-separated
    shipped: Path
    override: Path | None

    @property
    def path(self) -> Path:
        return self.override or self.shipped


def data_files() -> list[DataFile]:
    """Every file shipped under ``kokuho/data``, with its local copy if there is one."""
    root = shipped_folder()
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if "__pycache__" in relative:
            continue
        out.append(DataFile(relative, path, override_of(relative)))
    return out


def stray_overrides() -> list[Path]:
    """Files under ``$KOKUHO_HOME/data`` that replace no shipped file (a misspelt name is
    otherwise silently ignored)."""
    folder = override_folder()
    if not folder.is_dir():
        return []
    shipped = {f.relative for f in data_files()}
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() not in shipped
    )
