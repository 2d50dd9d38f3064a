"""The demo command end to end, small: generate, load, issue, and the printed request works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from kokuho.cli import main
from kokuho.config import Settings
from kokuho.web import create_app


@pytest.mark.slow
def test_demo_loads_the_prefecture_and_its_example_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    result = CliRunner().invoke(
        main, ["demo", "--persons", "600", "--seed", "5", "--no-serve", "--json"]
    )
    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads(result.stdout)
    manifest = json.loads((tmp_path / "demo" / "manifest.json").read_text())
    assert summary["overlaps"]["found"] == manifest["counts"]["overlaps_planted"]
    assert summary["counts"]["persons"] == manifest["counts"]["persons_total"]
    assert summary["counts"]["mynumber_linked"] > 0.7 * manifest["counts"]["persons_alive_at_end"]
    assert summary["counts"]["cards_issued"] == summary["counts"]["mynumber_linked"]
    assert set(summary["current_members_by_insurer_kind"]) >= {"kokuho_municipal", "kyokai", "koki"}
    checkups = summary["checkups"]
    assert checkups["documents"] == manifest["counts"]["checkup_documents"] > 0
    assert 0.2 < checkups["kokuho_rate"] < 0.6
    claims = summary["claims"]
    assert claims["files"] == manifest["counts"]["claim_files"]
    assert claims["lines"] == manifest["counts"]["claim_lines"] > 0
    incentives = summary["incentives"]
    assert len(incentives["municipalities"]) == 17
    assert incentives["grants_yen"] > 0
    assert {a["role"] for a in summary["dashboard"]["accounts"]} == {"prefecture", "municipal"}

    token = Path(summary["clinic"]["token_file"]).read_text()
    assert oct(Path(summary["clinic"]["token_file"]).stat().st_mode)[-3:] == "600"
    with TestClient(create_app(Settings.from_env())) as http:
        answer = http.post(
            "/api/v1/checks/number",
            json=summary["example"]["body"],
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200 and answer.json()["validity"] == 1
