"""承認の取消: a reviewer may revoke an approval (a breach of the conditions, a changed
purpose); after it no extract is made, while the deletion and the 公表物確認 still are.
Before this there was no way to stop a provision short of the user's own deletion."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.cli._provision import ServiceAudit
from kokuho.provision import (
    Catalogue,
    ProvisionError,
    add_reviewer,
    catalogue,
    confirm_deletion,
    extract,
    provision_detail,
    review,
    revoke,
)
from tests.clihome import audit_rows, invoke, sqlite_home
from tests.provisioncases import ON, SOURCE, TERM, D, all_sources, applied, approved


def test_no_extract_after_the_approval_is_revoked(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path
) -> None:
    sources = all_sources(engine)
    keys = tmp_path / "keys"
    pid = applied(engine, cat, audit)
    with pytest.raises(ProvisionError, match="P000001 is applied: it cannot be revoked now"):
        revoke(engine, pid, reviewer="委員 丙", reason="x", on=ON, audit=audit)
    review(engine, cat, pid, reviewer="委員 丙", decision="approve", minutes="承認", on=ON,
           term_until=TERM, audit=audit)  # fmt: skip
    extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=ON, audit=audit,
            source_key=SOURCE, key_folder=keys)  # fmt: skip
    add_reviewer(engine, "研究者 甲", on=ON, actor="事務局", audit=audit)  # a reviewer elsewhere
    with pytest.raises(ProvisionError, match="'研究者 甲' applied for or uses P000001"):
        revoke(engine, pid, reviewer="研究者 甲", reason="x", on=ON, audit=audit)
    with pytest.raises(ProvisionError, match="reason: must not be empty"):
        revoke(engine, pid, reviewer="委員 丙", reason=" ", on=ON, audit=audit)
    done = revoke(engine, pid, reviewer="委員 丙", reason="条件違反: 市区町村別の公表",
                  on=D(2024, 6, 1), audit=audit)  # fmt: skip
    assert done.state == "revoked"
    assert done.steps[-1].step == "revoked"
    assert done.steps[-1].detail["reason"] == "条件違反: 市区町村別の公表"
    with pytest.raises(ProvisionError, match="P000001 is revoked: it cannot be extracted now"):
        extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=D(2024, 6, 2),
                audit=audit, source_key=SOURCE, key_folder=keys)  # fmt: skip
    assert not (tmp_path / pid / "extract-2").exists()
    # The user still confirms the deletion, which destroys the key.
    deleted = confirm_deletion(engine, pid, by="研究者 甲", method="消去", on=D(2024, 6, 3),
                               audit=audit, key_folder=keys)  # fmt: skip
    assert deleted.state == "deleted"
    assert not any(keys.glob(f"provision-{pid}.key"))


def test_the_command_revokes_and_shows_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, engine = sqlite_home(tmp_path, monkeypatch)
    hook = ServiceAudit(engine)
    try:
        pid = approved(engine, catalogue(), hook)
    finally:
        hook.close()
    result = invoke("provision", "revoke", pid, "--by", "委員 丙", "--reason", "目的外利用",
                    "--on", "2024-06-01")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "revoked (承認取消)" in result.output
    assert provision_detail(engine, pid).state == "revoked"
    assert [row[0] for row in audit_rows(tmp_path / "home", "provision_revoke", ["action"])] == [
        "provision_revoke"
    ]
    engine.dispose()
