"""Who `--by` names is checked, not taken on trust: a review or a revocation by an appointed
reviewer (`kokuho provision reviewer`) only, never by the applicant or a named user — under
any spacing or width of their name — and the deletion confirmed by the applicant or a named
user only. Before, the names were compared as typed: the applicant appointed as "研究者　甲"
(a full-width space) reviewed their own application."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from tests.clihome import invoke, sqlite_home

APPLY = (
    "apply", "--basis", "third_party", "--applicant", "研究者 甲", "--organisation", "香川大学",
    "--purpose", "連結解析", "--public-interest", "介護予防", "--place", "香川県高松市",
    "--user", "研究者 甲", "--user", "Tanaka Hanako", "--item", "persons.sex",
    "--from", "2023-04-01", "--to", "2024-03-31", "--on", "2024-05-01",
)  # fmt: skip


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home, engine = sqlite_home(tmp_path, monkeypatch)
    engine.dispose()
    return home


def run(*args: str) -> Result:
    return invoke("provision", *args)


def review(by: str) -> Result:
    return run("review", "P000001", "--by", by, "--decision", "approve", "--minutes", "議事",
               "--term-until", "2025-03-31", "--on", "2024-05-10")  # fmt: skip


@pytest.mark.parametrize(
    "alias",
    ["研究者　甲", "研究者  甲", " 研究者 甲 ", "ＴＡＮＡＫＡ　ＨＡＮＡＫＯ", "tanaka hanako"],
)
def test_the_applicant_or_a_user_appointed_under_another_spelling_cannot_review(
    home: Path, alias: str
) -> None:
    assert run(*APPLY).exit_code == 0
    assert run("reviewer", alias, "--by", "事務局", "--on", "2024-05-01").exit_code == 0
    refused = review(alias)
    assert refused.exit_code == 1
    assert f"{alias.strip()!r} applied for or uses P000001: they cannot review it" in (
        refused.output
    )
    shown = run("show", "P000001")
    assert shown.exit_code == 0 and "P000001 third_party applied" in shown.output


def test_a_reviewer_is_one_reviewer_under_any_spelling(home: Path) -> None:
    assert run(*APPLY).exit_code == 0
    assert run("reviewer", "委員 丙", "--by", "事務局", "--on", "2024-05-01").exit_code == 0
    again = run("reviewer", "委員　丙", "--by", "事務局", "--on", "2024-05-01")
    assert again.exit_code == 1 and "already a reviewer ('委員 丙')" in again.output
    assert review("山田").exit_code == 1  # not appointed
    done = invoke("provision", "review", "P000001", "--by", "委員　丙", "--decision", "approve",
                  "--minutes", "議事", "--term-until", "2025-03-31", "--on", "2024-05-10",
                  "--json")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert '"recorded_by": "委員 丙"' in done.output  # recorded as appointed


def test_only_the_applicant_or_a_user_confirms_the_deletion(home: Path) -> None:
    assert run(*APPLY).exit_code == 0
    assert run("reviewer", "委員 丙", "--by", "事務局", "--on", "2024-05-01").exit_code == 0
    assert review("委員 丙").exit_code == 0
    delete = ("delete", "P000001", "--method", "消去", "--on", "2025-04-01", "--by")
    for outsider in ("事務局", "委員 丙"):
        refused = run(*delete, outsider)
        assert refused.exit_code == 1
        assert f"{outsider!r} is neither the applicant nor a named user of P000001" in (
            refused.output
        )
    done = run(*delete, "Tanaka Hanako")
    assert done.exit_code == 0 and "deleted" in done.output
