"""The shipped data files: `kokuho data unconfirmed`, and local copies in $KOKUHO_HOME/data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.incentives import RuleFileError, load_rules
from kokuho.incentives._rules import unconfirmed_items
from kokuho.store import DataFileError, data_text, override_folder, shipped_folder
from kokuho.store._data_files import parse_yaml

DATA = Path(__file__).resolve().parents[1] / "src" / "kokuho" / "data"
SRC = DATA.parent


def report(*args: str) -> Any:
    result = CliRunner().invoke(main, ["data", "unconfirmed", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _flags(node: Any) -> int:
    """How many `confirmed: false` (and `X_confirmed: false`) flags ``node`` holds."""
    if isinstance(node, list):
        return sum(_flags(item) for item in node)
    if not isinstance(node, dict):
        return 0
    own = sum(1 for key, value in node.items() if str(key).endswith("confirmed") and value is False)
    return own + sum(_flags(value) for value in node.values())


def _marked_files() -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in sorted(DATA.rglob("*")):
        relative = path.relative_to(DATA).as_posix()
        if path.suffix == ".yaml":
            counts[relative] += _flags(yaml.safe_load(path.read_text("utf-8")))
        elif path.suffix in (".tsv", ".csv", ".txt"):
            head = path.read_bytes().decode("utf-8", errors="replace").splitlines()
            header = [line for line in head[:20] if line.startswith("#")]
            counts[relative] += sum(1 for line in header if "# confirmed: false" in line)
    return +counts


def test_every_confirmed_false_of_the_shipped_files_is_reported() -> None:
    found = report()
    per_file = Counter(entry["file"] for entry in found["unconfirmed"])
    assert per_file == _marked_files()
    assert found["overridden"] == []
    assert all(entry["source"] for entry in found["unconfirmed"])


def test_the_report_covers_what_the_scoreboard_calls_unconfirmed() -> None:
    entries = report()["unconfirmed"]
    for year in (2020, 2021):
        # The scoreboard lists "label: source" per item; it leaves out some flags the report
        # has (a part's own, the 特別調整交付金 budgets, fields and 取組 items).
        board = Counter(i.split(": ", 1)[1] for i in unconfirmed_items(load_rules(year).rules))
        ours = Counter(e["source"] for e in entries if e["file"] == f"incentives/fy{year}.yaml")
        assert board - ours == Counter()


def test_confirmed_values_are_not_reported() -> None:
    keys = {(e["file"], e["key"]) for e in report()["unconfirmed"]}
    # Confirmed by the research (issue 11): 協会けんぽ 第3期 特定健診 65 %, the FY2021
    # 事業費連動分 (1) tiers and the (2) items 1)–2).
    assert ("checkup_targets.yaml", "terms[第3期].targets[kyokai].checkup.rate") not in keys
    assert ("checkup_targets.yaml", "terms[第3期].targets[kyokai].guidance.rate") in keys
    fy2021 = {key for file, key in keys if file == "incentives/fy2021.yaml"}
    assert "parts[program_status].indicators[program_1]" not in fy2021
    assert "parts[program_content].indicators[program_2]" not in fy2021
    assert "parts[program_content].indicators[program_2].tiers[2]" in fy2021
    assert not {"efforts.content_regional_analysis", "efforts.content_municipal_share"} & fy2021
    assert ("prescribing_rules.yaml", "medication_history.months") not in keys


def test_local_choices_are_marked_as_such() -> None:
    entries = {(e["file"], e["key"]): e for e in report()["unconfirmed"]}
    for key in ("multi_drug.min_count", "multi_drug.min_days_supply"):
        entry = entries[("prescribing_rules.yaml", key)]
        assert entry["local_choice"] is True
        assert "抽出基準" in entry["source"]
    assert entries[("prescribing_rules.yaml", "diabetes.history_months")]["local_choice"] is False


def test_the_fy2017_national_cost_is_used_and_reported_as_likely() -> None:
    from kokuho.claims import load_reference_population

    reference = load_reference_population()
    assert reference.national(2017) == 355_668  # 健保ニュース 2020-02, see the file's source
    assert reference.national(2018) == reference.default_national_cost
    entries = {(e["file"], e["key"]): e for e in report()["unconfirmed"]}
    likely = entries[("reference_population.yaml", "national_cost_per_capita.by_fiscal_year")]
    assert likely["value"] == {"2017": 355668}
    assert likely["source"].startswith("LIKELY")


def test_the_human_table_names_file_key_value_and_source() -> None:
    result = CliRunner().invoke(main, ["data", "unconfirmed"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    at = lines.index("checkup_targets.yaml")
    assert lines[at + 1].split() == ["key", "value", "source"]
    row = r"\n  terms\[第3期\]\.targets\[kyokai\]\.guidance\.rate +0\.35 +Recollection"
    assert re.search(row, result.output)


# -- local copies ----------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    (tmp_path / "data").mkdir()
    return tmp_path


def test_tests_never_read_a_developers_local_copies() -> None:
    assert not override_folder().is_relative_to(Path.cwd())


def test_a_local_copy_replaces_the_shipped_file_in_report_and_loader(home: Path) -> None:
    shipped = (DATA / "prescribing_rules.yaml").read_text("utf-8")
    mine = shipped.replace(
        "min_count: {value: 15, source: *local_examples, confirmed: false, local_choice: true}",
        "min_count: {value: 6, source: 保険年金課 抽出基準 2024, confirmed: true}",
    )
    assert mine != shipped
    copy = home / "data" / "prescribing_rules.yaml"
    copy.write_text(mine, encoding="utf-8")
    found = report()
    assert found["overridden"] == [{"file": "prescribing_rules.yaml", "override": str(copy)}]
    ours = [e for e in found["unconfirmed"] if e["file"] == "prescribing_rules.yaml"]
    assert ours and all(e["overridden"] for e in ours)
    assert "multi_drug.min_count" not in {e["key"] for e in ours}
    # The loader reads the copy (a fresh process: loaders read their file once).
    code = "from kokuho.claims import load_prescribing_rules as l; print(l().multi_min_count)"
    env = {**os.environ, "KOKUHO_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "6"


def test_a_local_copy_of_the_kanji_table_changes_the_normalisation(home: Path) -> None:
    table = (DATA / "kanji_variants.tsv").read_text("utf-8") + "籐\t藤\ta test-only pair\n"
    (home / "data" / "kanji_variants.tsv").write_text(table, encoding="utf-8")
    code = "from kokuho.registry import normalize_kanji_name as n; print(n('籐田') == n('藤田'))"
    env = {**os.environ, "KOKUHO_HOME": str(home)}
    ran = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "True"
    empty = {**os.environ, "KOKUHO_HOME": str(home / "elsewhere")}
    shipped = subprocess.run(
        [sys.executable, "-c", code], env=empty, capture_output=True, text=True, check=True
    )
    assert shipped.stdout.strip() == "False"


def test_copy_puts_a_shipped_file_in_place_once(home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["data", "copy", "incentives/fy2021.yaml"])
    assert result.exit_code == 0, result.output
    copy = home / "data" / "incentives" / "fy2021.yaml"
    assert copy.read_bytes() == (DATA / "incentives" / "fy2021.yaml").read_bytes()
    assert report()["overridden"] == [{"file": "incentives/fy2021.yaml", "override": str(copy)}]
    copy.write_text("edited", encoding="utf-8")
    again = runner.invoke(main, ["data", "copy", "incentives/fy2021.yaml"])
    assert again.exit_code == 1 and f"error: {copy} exists already" in again.output
    assert copy.read_text("utf-8") == "edited"
    unknown = runner.invoke(main, ["data", "copy", "../../etc/passwd"])
    assert unknown.exit_code == 1 and "not a shipped data file" in unknown.output


def test_a_local_rule_file_that_does_not_parse_names_the_copy(home: Path) -> None:
    copy = home / "data" / "incentives" / "fy2020.yaml"
    copy.parent.mkdir()
    copy.write_text("schema_version: 1\nfiscal_year: [2020\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match=f"^{copy}:3: "):
        load_rules(2020)


def test_a_local_copy_that_does_not_parse_names_file_and_line(home: Path) -> None:
    copy = home / "data" / "checkup_targets.yaml"
    copy.write_text("terms:\n  - term: 3\n    name: [第3期\n", encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        data_text("checkup_targets.yaml")
    assert str(caught.value).startswith(f"{copy}:4: not valid YAML")
    from kokuho.checkups import load_targets

    with pytest.raises(DataFileError, match=f"^{copy}:4: "):
        load_targets()
    result = CliRunner().invoke(main, ["data", "unconfirmed"])
    assert result.exit_code == 1
    assert f"error: {copy}:4: not valid YAML" in result.output


def test_a_local_copy_whose_aliases_explode_is_refused(home: Path) -> None:
    """Nine lines of anchors and aliases are 10**9 values to a reader that walks them: `data
    unconfirmed` ran for ever. Anchors as the shipped files use them stay fine."""
    import time

    bomb = "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"x{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]\n" for n in range(1, 9)
    )
    copy = home / "data" / "checkup_rules.yaml"
    copy.write_text(bomb + (shipped_folder() / "checkup_rules.yaml").read_text("utf-8"), "utf-8")
    started = time.monotonic()
    result = CliRunner().invoke(main, ["data", "unconfirmed"])
    assert time.monotonic() - started < 20
    assert result.exit_code == 1
    assert f"error: {copy}:1: not valid YAML: its aliases expand it past 1,000,000" in (
        result.output
    )
    copy.unlink()
    anchored = "a: &one [1, 2]\nb: *one\nc: *one\n"
    copy.write_text(anchored, "utf-8")
    assert parse_yaml(anchored, copy) == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}


def test_a_local_copy_that_is_not_utf8_names_the_line(home: Path) -> None:
    copy = home / "data" / "exclusions.yaml"
    copy.write_bytes("format: x\nreasons:\n  - name: 国外\n".encode("cp932"))
    with pytest.raises(DataFileError, match=f"^{copy}:3: not UTF-8"):
        data_text("exclusions.yaml")


def test_a_misspelt_local_copy_is_reported_not_silently_ignored(home: Path) -> None:
    stray = home / "data" / "prescribing_rule.yaml"
    stray.write_text("format: kokuho prescribing rules 1\n", encoding="utf-8")
    assert report()["ignored_overrides"] == [str(stray)]
    result = CliRunner().invoke(main, ["data", "unconfirmed"])
    assert f"ignored (no shipped file of that name): {stray}" in result.output


def test_every_loader_reads_through_the_override_aware_functions() -> None:
    """No module but kokuho.store opens kokuho/data itself (a new loader would bypass the
    local copies)."""
    offenders = [
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if "store" not in path.relative_to(SRC).parts
        and ('joinpath("data' in (text := path.read_text("utf-8")) or 'joinpath(f"data' in text)
    ]
    assert offenders == []
