"""`kokuho provision …` as staff use it: the whole workflow on a small register with 介護
certifications in the care lake, --json documents, refusals as one line and exit 1, and every
step — every extract above all — in the service's hash-chained audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from kokuho.care import CareLake, write_certifications
from kokuho.config import Settings
from tests.clihome import assert_audit_chain_intact, audit_rows, invoke, ok_json, sqlite_home
from tests.provisioncases import CERTIFICATIONS, KOKI, build_register


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home, engine = sqlite_home(tmp_path, monkeypatch)
    build_register(engine)
    engine.dispose()
    write_certifications(tmp_path / "certs.csv", CERTIFICATIONS)
    CareLake.from_settings(Settings.from_env()).import_certifications([tmp_path / "certs.csv"])
    return home


def run(*args: str) -> Result:
    return invoke("provision", *args)


def ok(*args: str) -> dict[str, object]:
    return ok_json("provision", *args)


APPLY = (
    "apply", "--basis", "third_party", "--applicant", "研究者 甲", "--organisation", "香川大学",
    "--purpose", "要介護と医療の連結解析", "--public-interest", "介護予防の評価",
    "--place", "香川県高松市 香川大学", "--user", "研究者 甲", "--item", "persons.age_band",
    "--item", "persons.sex", "--item", "care_certifications.care_level",
    "--from", "2023-04-01", "--to", "2024-03-31", "--on", "2024-05-01",
)  # fmt: skip


def test_the_workflow_from_the_command_line_is_in_the_audit_chain(
    home: Path, tmp_path: Path
) -> None:
    applied = ok(*APPLY)
    pid = str(applied["provision_id"])
    assert (pid, applied["state"], applied["state_title"]) == ("P000001", "applied", "申出受付")
    refused = run("review", pid, "--by", "委員 丙", "--decision", "approve", "--minutes", "議事",
                  "--term-until", "2025-03-31", "--on", "2024-05-10")  # fmt: skip
    assert refused.exit_code == 1 and "not a reviewer" in refused.output
    ok("reviewer", "委員 丙", "--by", "事務局", "--on", "2024-05-01")
    again = run("reviewer", "委員 丙", "--by", "事務局")
    assert again.exit_code == 1 and "already a reviewer" in again.output
    reviewed = ok("review", pid, "--by", "委員 丙", "--decision", "approve", "--minutes", "議事",
                  "--item", "persons.age_band", "--item", "care_certifications.care_level",
                  "--term-until", "2025-03-31", "--on", "2024-05-10")  # fmt: skip
    assert reviewed["approved"] == {"care_certifications": ["care_level"],
                                    "persons": ["age_band"]}  # fmt: skip
    out = tmp_path / "out"
    unapproved = run("extract", pid, "--out", str(out), "--by", "事務局", "--item",
                     "persons.sex", "--on", "2024-05-20")  # fmt: skip
    assert unapproved.exit_code == 1
    assert f"error: provision {pid}: persons.sex was not approved" in unapproved.output
    assert not out.exists()
    first = ok("extract", pid, "--out", str(out), "--by", "事務局", "--on", "2024-05-20")
    second = ok("extract", pid, "--out", str(out), "--by", "事務局", "--on", "2024-05-21")
    assert first["rows"] == {"persons": 4, "care_certifications": 2}
    # Both 介護 numbers are current on 2024-03-31 and their カナ is the register's.
    assert first["linkage"] == {"numbers": 2, "kinds": {
        "ID1": {"linked": 2, "unlinked": 0, "rate": 1.0},
        "ID2": {"linked": 2, "unlinked": 0, "rate": 1.0}}}  # fmt: skip
    table = tmp_path / "table.csv"
    table.write_text("区分,男,女\n要支援,3,14\n要介護,25,31\n", encoding="utf-8")
    broken = run("release-check", str(table), "--provision", pid, "--by", "研究者 甲", "--json")
    assert broken.exit_code == 3 and json.loads(broken.output)["ok"] is False
    deleted = ok("delete", pid, "--by", "研究者 甲", "--method", "消去", "--on", "2025-04-01")
    assert deleted["state"] == "deleted"
    after = run("extract", pid, "--out", str(out), "--by", "事務局", "--on", "2024-06-01")
    assert after.exit_code == 1 and "is deleted: it cannot be extracted now" in after.output
    listed = run("list")
    assert listed.exit_code == 0 and f"{pid}  third_party" in listed.output
    assert "消去確認済" in listed.output
    assert ok("show", pid)["extracts"] == 2
    rows = audit_rows(home, "provision", ("action", "detail"))
    extracts = [json.loads(d) for action, d in rows if action == "provision_extract"]
    assert [(e["provision"], e["extract"]) for e in extracts] == [(pid, 1), (pid, 2)]
    assert extracts[0]["sha256"] == first["sha256"] and extracts[1]["sha256"] == second["sha256"]
    assert [action for action, _ in rows] == [
        "provision_apply", "provision_reviewer", "provision_review", "provision_extract",
        "provision_extract", "provision_release_check", "provision_delete", "provision_list",
    ]  # fmt: skip
    assert_audit_chain_intact()


def test_requests_list_only_the_statutory_ones(home: Path) -> None:
    ok(*APPLY)
    request = list(APPLY)
    request[request.index("third_party")] = "integrated_request"
    request[request.index("香川大学")] = "高松市"
    nameless = run(*request)
    assert nameless.exit_code == 1 and "names the providing insurer" in nameless.output
    ok(*request, "--provider", KOKI)
    listed = ok("requests")
    assert [p["provision_id"] for p in listed] == ["P000002"]  # type: ignore[attr-defined]
    bad = run(*[a if a != "persons.sex" else "persons.name" for a in APPLY])
    assert bad.exit_code == 1 and "unknown item persons.name" in bad.output
    basis = list(APPLY)
    basis[basis.index("third_party")] = "abroad"
    unknown = run(*basis)
    assert unknown.exit_code == 1 and "basis 'abroad': one of integrated_request" in unknown.output
    place = list(APPLY)
    place[place.index("香川県高松市 香川大学")] = "Singapore"
    abroad = run(*place)
    assert abroad.exit_code == 1 and "it must be in Japan" in abroad.output


def test_a_step_dated_after_today_is_refused(home: Path) -> None:
    """Steps go in day order, so an application dated 2033 (for 2023) was recorded and refused
    every later step until 2033 ('… is before its last recorded step (2033-…)'); a review or an
    extract dated ahead is as wrong. A usage error naming --on; nothing is recorded."""
    import datetime as dt

    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    ahead = run(*APPLY[:-1], tomorrow)
    assert ahead.exit_code == 2, ahead.output
    assert "--on" in ahead.output and "after today" in ahead.output
    assert ok("list") == []
    ok(*APPLY)
    reviewer = run("reviewer", "委員 丙", "--by", "事務局", "--on", tomorrow)
    assert reviewer.exit_code == 2 and "after today" in reviewer.output
    ok("reviewer", "委員 丙", "--by", "事務局", "--on", "2024-05-01")
    review = run("review", "P000001", "--by", "委員 丙", "--decision", "approve", "--minutes",
                 "議事", "--term-until", "2025-03-31", "--on", tomorrow)  # fmt: skip
    assert review.exit_code == 2 and "after today" in review.output
    # --term-until is no step's day: it is not held to today.
    ok("review", "P000001", "--by", "委員 丙", "--decision", "approve", "--minutes", "議事",
       "--term-until", "2025-03-31", "--on", "2024-05-10")  # fmt: skip
    for step in (("revoke", "--reason", "x"), ("delete", "--method", "x")):
        refused = run(step[0], "P000001", "--by", "委員 丙", *step[1:], "--on", tomorrow)
        assert refused.exit_code == 2 and "after today" in refused.output, refused.output
    assert ok("show", "P000001")["state"] == "approved"
