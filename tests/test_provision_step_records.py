"""The day a provision step claims (``--on``) cannot go back before the steps already
recorded: an extract dated before its review or before an earlier extract, or a deletion
dated before the last extract, is refused. Before this, an extract dated back into the
data-use term was made long after the term had ended (and the approval was spent)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.cli._provision import ServiceAudit
from kokuho.provision import (
    Catalogue,
    ProvisionError,
    Sources,
    check_file,
    confirm_deletion,
    extract,
    provision_detail,
    record_release_check,
    release_rules,
    review,
)
from kokuho.verify import tables as service_tables
from tests.provisioncases import ON, SOURCE, TERM, D, applied, approved_with_sources

REVIEWED = D(2024, 5, 10)


def _approved(engine: sa.Engine, cat: Catalogue, audit: ServiceAudit) -> tuple[str, Sources]:
    return approved_with_sources(engine, cat, audit, reviewed=REVIEWED)


def test_an_extract_cannot_be_dated_before_its_review(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path
) -> None:
    pid, sources = _approved(engine, cat, audit)
    with pytest.raises(ProvisionError, match=r"P000001: 2024-05-09 is before .*2024-05-10"):
        extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=D(2024, 5, 9),
                audit=audit, source_key=SOURCE, key_folder=tmp_path / "keys")  # fmt: skip
    assert provision_detail(engine, pid).extracts == 0
    assert not (tmp_path / pid).exists()


def test_an_extract_cannot_be_dated_back_into_the_term_after_a_later_one(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path
) -> None:
    pid, sources = _approved(engine, cat, audit)
    keys = tmp_path / "keys"
    extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=TERM, audit=audit,
            source_key=SOURCE, key_folder=keys)  # fmt: skip
    with pytest.raises(ProvisionError, match=r"2024-06-01 is before .*2025-03-31"):
        extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=D(2024, 6, 1),
                audit=audit, source_key=SOURCE, key_folder=keys)  # fmt: skip
    assert provision_detail(engine, pid).extracts == 1
    # The same day, or later within the term, is fine.
    extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=TERM, audit=audit,
            source_key=SOURCE, key_folder=keys)  # fmt: skip
    assert provision_detail(engine, pid).steps[-1].detail["on"] == "2025-03-31"


def test_a_deletion_cannot_be_dated_before_the_last_extract(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path
) -> None:
    pid, sources = _approved(engine, cat, audit)
    keys = tmp_path / "keys"
    extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=D(2024, 9, 1), audit=audit,
            source_key=SOURCE, key_folder=keys)  # fmt: skip
    with pytest.raises(ProvisionError, match=r"2024-08-31 is before .*2024-09-01"):
        confirm_deletion(engine, pid, by="研究者 甲", method="消去", on=D(2024, 8, 31),
                         audit=audit, key_folder=keys)  # fmt: skip
    assert provision_detail(engine, pid).state == "provided"


def test_a_review_cannot_be_dated_before_the_application(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit
) -> None:
    pid = applied(engine, cat, audit, on=ON)
    with pytest.raises(ProvisionError, match=r"2024-04-30 is before .*2024-05-01"):
        review(engine, cat, pid, reviewer="委員 丙", decision="approve", minutes="承認",
               on=D(2024, 4, 30), term_until=TERM, audit=audit)  # fmt: skip
    assert provision_detail(engine, pid).state == "applied"


def test_the_release_check_records_the_checked_tables_digest(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path
) -> None:
    # A 公表可 verdict must bind the exact bytes checked: a file changed afterwards (a hidden
    # cell filled in) no longer matches the recorded SHA-256.
    pid, sources = _approved(engine, cat, audit)
    extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=REVIEWED, audit=audit,
            source_key=SOURCE, key_folder=tmp_path / "keys")  # fmt: skip
    table = tmp_path / "table.csv"
    table.write_bytes("区分,男,女\n要支援,12,0\n要介護,25,31\n".encode())
    digest = hashlib.sha256(table.read_bytes()).hexdigest()
    check = check_file(table, release_rules())
    assert check.sha256 == digest
    assert record_release_check(engine, pid, check, by="研究者 甲", audit=audit)
    step = provision_detail(engine, pid).steps[-1]
    assert step.detail["sha256"] == digest
    a = service_tables.audit_log.c
    with engine.connect() as connection:
        detail = connection.scalar(sa.select(a.detail).where(a.action == "provision_release_check"))
    assert digest in str(detail)
