"""The field lists of ID1 and ID2 (連結用ID) from ``data/provision/linkage_ids.yaml``: recalled,
not read in an official definition, so they live in a data file with their source and
``confirmed: false`` (docs/provision.md §1) instead of in the code."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from kokuho.store import FileProblem, FileProblemsError, data_path, data_text, load_yaml

ID_FIELDS_FILE: Final = "provision/linkage_ids.yaml"
_FORMAT: Final = "kokuho linkage ids 1"
#: The closed set of fields each ID may hash: what its caller hands over on the source side.
ALLOWED: Final[dict[str, tuple[str, ...]]] = {
    "id1": ("insurer", "symbol", "number", "branch", "birth_date", "sex"),
    "id2": ("name_kana", "birth_date", "sex"),
}


@dataclass(frozen=True, slots=True)
class IdFields:
    """The fields of ID1 and ID2, in the order they are hashed."""

    id1: tuple[str, ...]
    id2: tuple[str, ...]


def _fields(raw: Any, kind: str, where: str, problems: list[FileProblem]) -> tuple[str, ...]:
    node = raw.get(kind)
    names = node.get("fields") if isinstance(node, dict) else None
    field = f"{kind}.fields"
    if not isinstance(names, list) or not names:
        problems.append(FileProblem(where, 0, field, "must be a list of one field or more"))
        return ()
    allowed = ALLOWED[kind]
    for name in names:
        if name not in allowed:
            problems.append(
                FileProblem(
                    where, 0, field, f"unknown field {name!r} (one of {', '.join(allowed)})"
                )
            )
    if len(set(map(str, names))) != len(names):
        problems.append(FileProblem(where, 0, field, "names a field twice"))
    if not isinstance(node.get("source"), str) or not node["source"].strip():
        problems.append(FileProblem(where, 0, f"{kind}.source", "must name where the list is from"))
    return tuple(names)


@lru_cache(maxsize=4)
def parse_id_fields(text: str, where: str) -> IdFields:
    """The field lists of ``text`` (the file ``where``); FileProblemsError naming the file and
    the field of anything unusable."""
    raw = load_yaml(text, where)
    if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
        raise FileProblemsError([FileProblem(where, 0, "format", f"must be {_FORMAT!r}")])
    problems: list[FileProblem] = []
    found = IdFields(*(_fields(raw, kind, where, problems) for kind in ALLOWED))
    if problems:
        raise FileProblemsError(problems)
    return found


def linkage_id_fields() -> IdFields:
    """The lists in force: the local copy under $KOKUHO_HOME/data when there is one."""
    return parse_id_fields(data_text(ID_FIELDS_FILE), str(data_path(ID_FIELDS_FILE)))
