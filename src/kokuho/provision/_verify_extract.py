"""An extract's files checked against what its step recorded (提供データの改ざん検知): every
table's SHA-256 was recorded in the step and the audit log when the extract was made, so a
file changed, added or removed afterwards (before it is handed over, before a 公表物確認) is
named here."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from kokuho.provision._workflow import provision_detail
from kokuho.provision._workflow_model import ProvisionError
from kokuho.store import file_sha256


def verify_extract(engine: sa.Engine, pid: str, number: int, folder: Path) -> list[str]:
    """The problems of ``folder`` as extract ``number`` of ``pid``, one line each naming the
    file: missing, not part of the extract, or changed (SHA-256 differs). Empty: intact."""
    recorded = next(
        (
            step.detail
            for step in provision_detail(engine, pid).steps
            if step.step == "extracted" and step.detail.get("extract") == number
        ),
        None,
    )
    if recorded is None:
        raise ProvisionError(f"provision {pid} has no extract {number}")
    if not folder.is_dir():
        raise ProvisionError(f"{folder}: not a folder")
    expected = {f"{table}.csv": digest for table, digest in recorded["sha256"].items()}
    present = {entry.name: entry for entry in folder.iterdir()}
    problems = []
    for name in sorted(set(expected) | set(present)):
        path = folder / name
        if name not in expected:
            problems.append(f"{path}: not part of extract {number}")
        elif name not in present or not path.is_file():
            problems.append(f"{path}: missing")
        elif file_sha256(path) != expected[name]:
            problems.append(f"{path}: changed since the extract (SHA-256 differs)")
    return problems
