"""An extract's files checked against the SHA-256 its step recorded: a file changed, added or
removed after the extract (before it is handed over, or before its 公表物確認) is named."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.cli._provision import ServiceAudit
from kokuho.provision import (
    ProvisionError,
    catalogue,
    extract,
    verify_extract,
)
from tests.clihome import invoke, sqlite_home
from tests.provisioncases import ON, SOURCE, all_sources, approved


def _extracted(engine: sa.Engine, audit: ServiceAudit, out: Path) -> Path:
    cat = catalogue()
    sources = all_sources(engine)
    pid = approved(engine, cat, audit)
    done = extract(engine, cat, pid, sources, out=out, by="事務局", on=ON, audit=audit,
                   source_key=SOURCE, key_folder=out / "keys")  # fmt: skip
    return done.folder


def _extracted_in_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An extract made under a fresh ``KOKUHO_HOME``, for the command to verify."""
    _, engine = sqlite_home(tmp_path, monkeypatch)
    hook = ServiceAudit(engine)
    try:
        folder = _extracted(engine, hook, tmp_path / "out")
    finally:
        hook.close()
        engine.dispose()
    return folder


def test_an_untouched_extract_verifies_and_a_tampered_one_is_named(
    engine: sa.Engine, audit: ServiceAudit, tmp_path: Path
) -> None:
    folder = _extracted(engine, audit, tmp_path)
    assert verify_extract(engine, "P000001", 1, folder) == []
    persons = folder / "persons.csv"
    persons.write_bytes(persons.read_bytes() + b"forged,1,40-44,372013\r\n")
    (folder / "names.csv").write_text("pid,name\n", encoding="utf-8")
    (folder / "care_services.csv").unlink()
    assert verify_extract(engine, "P000001", 1, folder) == [
        f"{folder / 'care_services.csv'}: missing",
        f"{folder / 'names.csv'}: not part of extract 1",
        f"{folder / 'persons.csv'}: changed since the extract (SHA-256 differs)",
    ]


def test_an_extract_number_that_was_never_made_is_refused(
    engine: sa.Engine, audit: ServiceAudit, tmp_path: Path
) -> None:
    folder = _extracted(engine, audit, tmp_path)
    with pytest.raises(ProvisionError, match="P000001 has no extract 2"):
        verify_extract(engine, "P000001", 2, folder)


def test_the_command_exits_3_on_a_tampered_extract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _extracted_in_home(tmp_path, monkeypatch)
    good = invoke("provision", "verify", "P000001", "--extract", "1", "--folder", str(folder))
    assert good.exit_code == 0, good.output
    (folder / "persons.csv").write_bytes(b"pid\r\n")
    bad = invoke("provision", "verify", "P000001", "--extract", "1", "--folder", str(folder))
    assert bad.exit_code == 3, bad.output
    assert "persons.csv: changed since the extract" in bad.output


def test_the_command_prints_an_added_file_s_name_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file name is chosen by whoever held the folder: printed raw, "\x1b[2K…\r" would erase
    # its own line on the operator's terminal and the extract would look intact.
    folder = _extracted_in_home(tmp_path, monkeypatch)
    (folder / "\x1b[2Kintact\r").write_text("x", encoding="utf-8")
    bad = invoke("provision", "verify", "P000001", "--extract", "1", "--folder", str(folder))
    assert bad.exit_code == 3, bad.output
    assert "\x1b" not in bad.output and "\r" not in bad.output
    assert "\\x1b[2Kintact\\r: not part of extract 1" in bad.output
