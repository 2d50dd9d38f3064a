"""The rule files: FY2020 and FY2021 load with their sources and confirmed flags, and every
problem of a rule file names the file, the line and the field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from kokuho.incentives import RuleFileError, load_rules, parse_rules, shipped_years
from kokuho.incentives._schema import EffortTier, RankTier

FY2020 = resources.files("kokuho").joinpath("data/incentives/fy2020.yaml").read_text("utf-8")


def test_the_shipped_years() -> None:
    assert shipped_years() == [2020, 2021]


def test_fy2020_has_every_indicator_with_its_confirmed_maxima() -> None:
    rules = load_rules(2020).rules
    municipal = rules.part("municipal")
    groups = [i.group for i in municipal.indicators]
    for group in ("共通①", "共通②", "共通③", "共通④", "共通⑤", "共通⑥"):
        assert group in groups
    for group in ("固有①", "固有②", "固有③", "固有④", "固有⑤", "固有⑥"):
        assert group in groups
    by_group = {i.group: i for i in municipal.indicators}
    assert (by_group["共通④"].max, by_group["共通⑤"].max, by_group["共通⑥"].max) == (110, 50, 130)
    for group in ("共通④", "共通⑤", "共通⑥"):
        assert by_group[group].confirmed and "pdfslide.net" in by_group[group].source
    assert sum(i.max for i in municipal.indicators) == 995
    prefectural = rules.part("prefectural")
    assert [i.group for i in prefectural.indicators] == ["指標①", "指標②", "指標③"]
    assert sum(i.max for i in prefectural.indicators) == 210


def test_fy2020_hotegai_tiers_are_confirmed_with_their_source() -> None:
    koyu_6 = next(
        i for i in load_rules(2020).rules.part("municipal").indicators if i.id == "koyu_6"
    )
    tiers = [t for t in koyu_6.tiers if isinstance(t, EffortTier) and t.item == "hotegai_kurire"]
    assert [(t.equals, t.points) for t in tiers] == [
        ("none", 35), ("plan_6y_on_track", 30), ("plan_long_on_track", 10), ("not_on_track", -15),
    ]  # fmt: skip
    assert all(t.confirmed and "ishida-kazuko.jp/archives/1832" in (t.source or "") for t in tiers)
    assert koyu_6.min == -15


def test_everything_carries_a_source_and_unconfirmed_values_are_marked() -> None:
    for year in (2020, 2021):
        rules = load_rules(year).rules
        for part in rules.parts:
            assert part.source and part.budget.source
            for indicator in part.indicators:
                assert indicator.source, indicator.id
        # Placeholder tiers inherit the indicator's unconfirmed flag.
        cancer = next(i for i in rules.part("municipal").indicators if i.id == "kyotsu_2_dental")
        assert not cancer.confirmed
    assert not load_rules(2020).rules.part("municipal").budget.confirmed


def test_fy2021_differs_where_the_sources_do() -> None:
    rules = load_rules(2021).rules
    assert [p.key for p in rules.parts] == [
        "municipal", "prefectural", "program_status", "program_content",
    ]  # fmt: skip
    assert rules.part("program_status").budget.yen == 15_000_000_000
    assert rules.part("program_status").budget.confirmed
    koyu_1 = next(i for i in rules.part("municipal").indicators if i.id == "koyu_1")
    top30 = koyu_1.tiers[0]
    assert isinstance(top30, RankTier)
    assert top30.cutoffs == {"100k": 0.9358, "50k": 0.9288, "10k": 0.9521, "3k": 0.964}
    koyu_6 = next(i for i in rules.part("municipal").indicators if i.id == "koyu_6")
    assert [t.points for t in koyu_6.tiers[:2]] == [30, -30]


def test_fy2021_programme_parts_follow_the_2022_03_02_table() -> None:
    rules = load_rules(2021).rules
    [status] = rules.part("program_status").indicators
    assert status.confirmed and [t.points for t in status.tiers] == [10, 10, 10]
    [content] = rules.part("program_content").indicators
    items = [t.item for t in content.tiers if isinstance(t, EffortTier)]
    # Official items 1) 都道府県の事業 and 2) 申請市町村の5割超 (10点 each); 3) was not legible.
    assert items == ["content_regional_analysis", "content_municipal_share", "content_item_3"]
    assert [t.points for t in content.tiers] == [10, 10, 10]
    assert [t.confirmed for t in content.tiers] == [None, None, False]
    assert rules.efforts["content_regional_analysis"].confirmed
    assert rules.efforts["content_municipal_share"].confirmed
    assert not rules.efforts["content_item_3"].confirmed


def problems(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        parse_rules(text, "mine.yaml")
    return [str(p) for p in caught.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_a_wrong_type_names_file_line_and_field() -> None:
    text = FY2020.replace("points: 70, label: 使用割合①", "points: many, label: 使用割合①")
    line = line_of(text, "points: many")
    [problem] = problems(text)
    assert problem.startswith(f"mine.yaml:{line}: parts[0].indicators[8].tiers[2].points: ")
    assert "valid number" in problem


def test_a_misspelt_key_is_an_error_not_ignored() -> None:
    text = FY2020.replace("        max: 110\n", "        maxi: 110\n")
    found = problems(text)
    assert any("parts[0].indicators[6].maxi: Extra inputs are not permitted" in p for p in found)
    assert any("parts[0].indicators[6].max: Field required" in p for p in found)


def test_cross_reference_errors_name_the_field() -> None:
    text = FY2020.replace(
        "{id: reach80, kind: target, input: generic_share,",
        "{id: reach80, kind: target, input: generic_shar,",
    )
    [problem] = problems(text)
    line = line_of(text, "input: generic_shar,")
    assert problem.startswith(f"mine.yaml:{line}: parts[0].indicators[8].tiers[2].input: ")
    assert "unknown field 'generic_shar'" in problem
    text = FY2020.replace("equals: not_on_track, points: -15", "equals: late, points: -15")
    [problem] = problems(text)
    assert "parts[0].indicators[14].tiers[3]" in problem
    assert "'hotegai_kurire' takes" in problem and "not 'late'" in problem
    text = FY2020.replace("requires: [reach80]", "requires: [reach90]")
    found = problems(text)
    assert len(found) == 2 and all("no other tier 'reach90' in kyotsu_6" in p for p in found)


def test_semantic_errors_of_tiers() -> None:
    text = FY2020.replace(
        "falling: true, points: -5, label: 規模別下位1割",
        "falling: true, points: 5, label: 規模別下位1割",
        1,
    )
    [problem] = problems(text)
    assert "parts[0].indicators[0].tiers[5].points: penalty points are negative" in problem
    text = FY2020.replace(
        "{kind: cap, tiers: [info1, info2], max: 20,", "{kind: cap, tiers: [info1, info2],"
    )
    [problem] = problems(text)
    assert "parts[0].indicators[6].tiers[5]: a cap needs max, min or both" in problem
    text = FY2020.replace(
        "top: 0.1, points: 35, ladder: level, label: 規模別上位1割}",
        "top: 1.5, points: 35, ladder: level, label: 規模別上位1割}",
        1,
    )
    [problem] = problems(text)
    assert "parts[0].indicators[0].tiers[1].top: Input should be less than or equal to 1" in problem
    text = FY2020.replace("points: 45, confirmed: false}", "points: 45.125, confirmed: false}")
    [problem] = problems(text)
    assert "tiers[0].points: Value error, points have at most two decimals" in problem


def test_yaml_syntax_errors_and_missing_files(tmp_path: Path) -> None:
    text = FY2020.replace(
        "  checkup_rate: {label: 特定健診受診率,", "  checkup_rate: {label: [特定健診受診率,", 1
    )
    [problem] = problems(text)
    assert problem.startswith("mine.yaml:") and ": (yaml): " in problem
    with pytest.raises(RuleFileError, match="no rule file shipped for FY2019"):
        load_rules(2019)
    with pytest.raises(RuleFileError, match=r"nothing\.yaml: \(file\)"):
        load_rules(tmp_path / "nothing.yaml")


def test_a_copy_on_disk_loads_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "fy2020.yaml"
    path.write_text(FY2020, encoding="utf-8")
    loaded = load_rules(path)
    assert loaded.path == str(path) and loaded.fiscal_year == 2020


def test_a_negative_maximum_is_refused() -> None:
    """max: -110 (a sign typed by mistake) loaded: points are clipped to the maximum, so every
    unit, answering nothing, got −110 for 共通④."""
    text = FY2020.replace("        max: 110\n", "        max: -110\n", 1)
    [problem] = problems(text)
    line = line_of(text, "max: -110")
    assert problem == f"mine.yaml:{line}: parts[0].indicators[6].max: a maximum is 0 or more"


@pytest.mark.parametrize("day", ["02-30", "13-01", "00-10", "٠٣-٣١"])
def test_the_day_insured_are_counted_on_is_a_real_day(day: str) -> None:
    """as_of '02-30' loaded, and scoring against the register then ended with 'day is out of
    range for month', naming neither file nor field."""
    text = FY2020.replace("  basis: monthly_average\n", f'  basis: as_of\n  as_of: "{day}"\n', 1)
    found = problems(text)
    line = line_of(text, "as_of: ")
    assert [p.split(": ")[0] for p in found] == [f"mine.yaml:{line}"], found
    assert "insured.as_of" in found[0]


@pytest.mark.parametrize(
    ("band", "reason"),
    [
        ('{key: "50k", label: 5万〜10万人, min: 50000, below: 99000}', "99000 to 100000"),
        ('{key: "50k", label: 5万〜10万人, min: 50000, below: 50000}', "empty"),
    ],
)
def test_size_bands_leave_no_gap(band: str, reason: str) -> None:
    """A band ending at 99,000 instead of 100,000 loaded: a municipality of 99,500 insured
    was in no band, so no rank tier of the group (規模別上位) could ever be given to it."""
    original = '{key: "50k", label: 5万〜10万人, min: 50000, below: 100000}'
    text = FY2020.replace(original, band, 1)
    found = problems(text)
    assert found and all("size_groups.collection.bands" in p for p in found), found
    assert any(reason in p for p in found), found
