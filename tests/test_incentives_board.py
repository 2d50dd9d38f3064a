"""The scoreboard from input files: where each value comes from, reasons, the prefecture's
aggregates, swapping a year's rule file (results change, code does not), data_year, and input
errors that name file, line and column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kokuho.incentives import (
    InputFileError,
    example_inputs,
    load_rules,
    prefecture_scoreboard,
    read_inputs,
    scoreboard_json,
)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    shutil.copytree(example_inputs(), folder)
    return folder


def test_the_example_scoreboard(inputs: Path) -> None:
    board = prefecture_scoreboard(None, None, 2020, inputs, prefecture="37")
    assert board.prefecture_name == "香川県"
    assert [u.name for u in board.municipalities] == ["高松市", "丸亀市", "直島町"]
    naoshima = board.part("municipal").unit_score("直島町")
    koyu_6 = naoshima.indicator("koyu_6")
    assert koyu_6.points == -15
    [given] = [t for t in koyu_6.tiers if t.status == "given"]
    assert given.awarded == -15 and "計画どおり削減していない" in given.reason_ja
    assert given.confirmed and "ishida-kazuko" in given.source
    # 共通⑤ ② was answered yes but requires ① (not answered): met, not counted.
    kyotsu_5 = naoshima.indicator("共通⑤")
    assert [t.status for t in kyotsu_5.tiers][:2] == ["withheld", "requires"]
    # 収納率 comes from collection_rates.csv, the 2018 figure (FY2020 scores the year two before).
    rate = next(v for v in naoshima.values if v.field == "collection_rate")
    assert (rate.value, rate.previous, rate.origin, rate.year) == (0.97, 0.98, "file", 2018)
    checkup = next(v for v in naoshima.values if v.field == "checkup_rate")
    assert (checkup.value, checkup.origin) == (0.40, "national")
    assert board.total_yen == sum(p.home_yen for p in board.parts)
    assert any("法定外繰入" in u or "予算" in u for u in board.unconfirmed)


def test_the_prefecture_scores_its_municipalities_mean(inputs: Path) -> None:
    board = prefecture_scoreboard(None, None, 2020, inputs, prefecture="37")
    kagawa = board.prefecture_scores()["prefectural"]
    # 共通④ of 高松 (45 + 15 + 15 capped 20 = 65), 丸亀 0, 直島 0 → mean 21.67; the other two
    # prefectures' municipalities answered nothing: 0. Kagawa is the best of 3 → 上位3割 20.
    mean = next(v for v in kagawa.values if v.field == "muni_mean_incentive")
    assert mean.value == pytest.approx(65 / 3) and mean.origin == "aggregate"
    pref_1 = kagawa.indicator("pref_1")
    [incentive] = [
        t for t in pref_1.tiers if t.label.startswith("個人インセンティブ") and t.status == "given"
    ]
    assert incentive.awarded == 20
    # 指標③: 重症化予防 20 + 助言 10 + 法定外繰入 reducing 15.
    assert kagawa.indicator("pref_3").points == 45


def test_explicit_files_beat_everything(inputs: Path) -> None:
    (inputs / "indicators.csv").write_text(
        "fiscal_year,code,field,value\n2018,370122,checkup_rate,61%\n", encoding="utf-8"
    )
    board = prefecture_scoreboard(None, None, 2020, inputs, prefecture="37")
    naoshima = board.part("municipal").unit_score("直島町")
    checkup = next(v for v in naoshima.values if v.field == "checkup_rate")
    assert (checkup.value, checkup.origin) == (0.61, "file")
    # The 60 % target 50 + up 16 ポイント on 45 % (≥ 3) 20.
    assert naoshima.indicator("kyotsu_1_checkup").points == 70


def test_swapping_the_rule_file_changes_the_results_without_code(
    inputs: Path, tmp_path: Path
) -> None:
    # The same inputs under FY2021's rules: 固有⑥ follows the 評価指標 ①〜⑦ answers instead
    # of the FY2020 35/30/10/−15 status (丸亀's plan_6y_on_track gives 30 in FY2020).
    (inputs / "efforts.csv").write_text(
        (inputs / "efforts.csv").read_text("utf-8")
        + "2019,370023,hotegai_kaisho,6\n2020,370023,hotegai_kaisho,6\n",
        encoding="utf-8",
    )
    fy2020 = prefecture_scoreboard(None, None, 2020, inputs, prefecture="37")
    fy2021 = prefecture_scoreboard(None, None, 2021, inputs, prefecture="37", data_year=2018)
    marugame_2020 = fy2020.part("municipal").unit_score("丸亀市")
    marugame_2021 = fy2021.part("municipal").unit_score("丸亀市")
    assert marugame_2020.indicator("koyu_6").points == 30
    # data_year 2018 reads the efforts of 2018 too: none given, so 0 under FY2021's rules.
    assert marugame_2021.indicator("koyu_6").points == 0
    # A copy of FY2020's file with one value changed changes that result and nothing else.
    text = load_rules(2020).path
    original = Path(__file__).resolve().parents[1] / "src/kokuho/data/incentives" / text
    changed = tmp_path / "fy2020-official.yaml"
    changed.write_text(
        original.read_text("utf-8").replace(
            "equals: plan_6y_on_track, points: 30,", "equals: plan_6y_on_track, points: 33,"
        ),
        encoding="utf-8",
    )
    swapped = prefecture_scoreboard(None, None, 2020, inputs, prefecture="37", rules=changed)
    assert swapped.rules_file == str(changed)
    before = {u.code: u.points for u in fy2020.municipalities}
    after = {u.code: u.points for u in swapped.municipalities}
    assert after == {**before, "370023": before["370023"] + 3}
    assert swapped.part("municipal").unit_score("丸亀市").grant_yen > marugame_2020.grant_yen


def test_a_rule_file_of_another_year_is_refused(inputs: Path) -> None:
    with pytest.raises(ValueError, match="holds the rules of FY2021"):
        prefecture_scoreboard(None, None, 2020, inputs, prefecture="37", rules=load_rules(2021))


def test_budgets_can_be_replaced(inputs: Path) -> None:
    board = prefecture_scoreboard(
        None, None, 2020, inputs, prefecture="37", budgets={"municipal": 1_000_000}
    )
    part = board.part("municipal")
    assert part.budget_yen == 1_000_000
    assert sum(u.grant_yen for u in part.units) <= 1_000_000


def test_input_errors_name_file_line_and_column(inputs: Path) -> None:
    rules = load_rules(2020).rules
    national = (inputs / "national.csv").read_text("utf-8").splitlines()
    national[3] = national[3].replace("0.330,22000", "33,22000")  # 愛媛県 2017 checkup_rate
    (inputs / "national.csv").write_text("\n".join(national) + "\n", encoding="utf-8")
    (inputs / "efforts.csv").write_text(
        "fiscal_year,code,item,value\n2019,370015,hotegai_kurire,maybe\n19,370015,cost_notice,yes\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFileError) as caught:
        read_inputs(inputs, rules)
    shown = [str(p) for p in caught.value.problems]
    assert (
        "national.csv:4: checkup_rate: 33 is not a rate (0 to 1): write 0.45 or 45% for 45 %"
        in shown
    )
    assert any(s.startswith("efforts.csv:2: hotegai_kurire: 'maybe' is not one of") for s in shown)
    assert "efforts.csv:3: fiscal_year: '19' is not a fiscal year (e.g. 2020)" in shown


def test_input_numbers_in_other_scripts_are_refused(inputs: Path) -> None:
    """float() reads '٠٫٣٣'-like digits of other scripts and '0_330': refused, named by line."""
    rules = load_rules(2020).rules
    national = (inputs / "national.csv").read_text("utf-8").splitlines()
    national[3] = national[3].replace("0.330,22000", "٠.٣٣٠,22000")
    national[4] = national[4].replace(",38,愛媛県,38,", ",38,愛媛県,٣٨,")
    (inputs / "national.csv").write_text("\n".join(national) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        read_inputs(inputs, rules)
    shown = [str(p) for p in caught.value.problems]
    assert "national.csv:4: checkup_rate: '٠.٣٣٠' is not a number" in shown, shown
    assert "national.csv:5: prefecture: '٣٨' is not 01–47" in shown, shown


def test_missing_columns_and_duplicates(inputs: Path) -> None:
    rules = load_rules(2020).rules
    (inputs / "collection_rates.csv").write_text("year,code,rate\n", encoding="utf-8")
    (inputs / "efforts.csv").write_text(
        "fiscal_year,code,item,value\n2019,37,pref_ckd_program,はい\n2019,37,pref_ckd_program,○\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFileError) as caught:
        read_inputs(inputs, rules)
    shown = [str(p) for p in caught.value.problems]
    assert "collection_rates.csv:1: fiscal_year: missing" in shown
    assert "efforts.csv:3: item: pref_ckd_program of 37 2019 given twice" in shown


def test_without_a_register_the_prefecture_must_be_named(inputs: Path) -> None:
    with pytest.raises(ValueError, match="give prefecture"):
        prefecture_scoreboard(None, None, 2020, inputs)


def test_the_json_document_carries_reasons(inputs: Path) -> None:
    document = scoreboard_json(prefecture_scoreboard(None, None, 2020, inputs, prefecture="37"))
    municipal = document["parts"][0]
    tiers = municipal["units"][0]["indicators"][0]["tiers"]
    assert {"reason_ja", "reason_en", "status", "awarded", "source", "confirmed"} <= set(tiers[0])
    assert document["adjustment"]["rows"][0]["prefecture"] == "37"


@pytest.mark.parametrize(
    "written", ["4500%", "-150%", "101%", "１５０％", "-0.5", "-50%", "－０．５", "-1", "-0.0001"]
)
def test_a_rate_out_of_0_to_1_is_refused_naming_the_field(inputs: Path, written: str) -> None:
    """A 受診率, 収納率 or 後発医薬品使用割合 is a fraction 0–1 (data/incentives/schema.md).
    '4500%' was taken as 45.0 (a 4,500 % 受診率: +70 points and 68 million yen more for
    直島町), while 45 without % was refused: a rate with % is bounded as one without. -0.5
    (and -50 %) was taken as the rate it says and scored; only a rate the rules mark
    ``signed`` (the 減少率, which is negative when the targets grew) may fall below 0."""
    rules = load_rules(2020).rules
    (inputs / "indicators.csv").write_text(
        f"fiscal_year,code,field,value\n2018,370122,checkup_rate,{written}\n", encoding="utf-8"
    )
    (inputs / "collection_rates.csv").write_text(
        f"fiscal_year,code,rate\n2018,370122,{written}\n", encoding="utf-8"
    )
    national = (inputs / "national.csv").read_text("utf-8").splitlines()
    national[3] = national[3].replace("0.330,22000", f"{written},22000")  # 愛媛県 2017
    (inputs / "national.csv").write_text("\n".join(national) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        read_inputs(inputs, rules)
    shown = [str(p) for p in caught.value.problems]
    for where in ("indicators.csv:2: checkup_rate", "collection_rates.csv:2: collection_rate",
                  "national.csv:4: checkup_rate"):  # fmt: skip
        assert any(s.startswith(where) and "not a rate" in s for s in shown), (where, shown)


def test_a_reduction_rate_may_be_negative_down_to_minus_one(inputs: Path) -> None:
    rules = load_rules(2020).rules
    assert rules.fields["reduction_rate"].signed
    assert not rules.fields["checkup_rate"].signed
    path = inputs / "indicators.csv"
    path.write_text("fiscal_year,code,field,value\n2018,370122,reduction_rate,-0.1\n", "utf-8")
    read_inputs(inputs, rules)  # accepted
    path.write_text("fiscal_year,code,field,value\n2018,370122,reduction_rate,-150%\n", "utf-8")
    with pytest.raises(InputFileError, match="reduction_rate: -150% is not a rate"):
        read_inputs(inputs, rules)


def test_a_percentage_is_the_decimal_it_says(inputs: Path) -> None:
    """56.7% is the rate 0.567: 56.7 / 100 in binary floats is 0.5670000000000001 for some
    values and 0.5669999999999999 for others (one two-decimal percentage in seven), and a
    unit written exactly at a threshold fell into the lower tier."""
    rules = load_rules(2020).rules
    written = [f"{i / 10:.1f}%" for i in range(1001)]
    reader_values = []
    for w in written:
        (inputs / "indicators.csv").write_text(
            f"fiscal_year,code,field,value\n2018,370122,checkup_rate,{w}\n", encoding="utf-8"
        )
        reader_values.append(read_inputs(inputs, rules).values[("370122", 2018)]["checkup_rate"])
    expected = [float(f"{i / 1000:.3f}") for i in range(1001)]
    assert [w for w, v, e in zip(written, reader_values, expected, strict=True) if v != e] == []


def test_blank_lines_of_the_national_file_are_skipped(inputs: Path) -> None:
    """A trailing empty line (an editor's, or Excel's CRLF file with one more) was a row of
    empty cells: 'fiscal_year: '' is not a fiscal year' and 'kind: '' is not one of …'."""
    rules = load_rules(2020).rules
    text = (inputs / "national.csv").read_text("utf-8")
    (inputs / "national.csv").write_bytes(
        (text.replace("\n", "\r\n") + "\r\n,,,,,\r\n\r\n").encode("utf-8")
    )
    read = read_inputs(inputs, rules)
    assert len(read.national) == len(text.splitlines()) - 1


def test_problems_name_the_line_after_empty_lines(inputs: Path) -> None:
    """efforts.csv with an empty line before a bad row: the problem named the line above it."""
    rules = load_rules(2020).rules
    (inputs / "efforts.csv").write_text(
        "fiscal_year,code,item,value\n2019,370015,cost_notice,yes\n\n2019,370023,cost_notice,maybe\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFileError) as caught:
        read_inputs(inputs, rules)
    assert [str(p).split(": ")[0] for p in caught.value.problems] == ["efforts.csv:4"]


def _national_with(inputs: Path, old: str, new: str) -> None:
    path = inputs / "national.csv"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        # 丸亀市 (370023) listed under 愛媛 in 2018: the scoreboard ended with "units listed
        # twice: ['370023']", naming no file or line.
        ("2018,municipality,370023,丸亀市,37,", "2018,municipality,370023,丸亀市,38,",
         "national.csv:11: code: 370023 is a number of prefecture 37, not 38"),
        # A code that is no 保険者番号 was a unit of the backdrop, sharing the budget.
        ("2018,municipality,390039,", "2018,municipality,ABC,",
         "national.csv:25: code: 'ABC' is not a 保険者番号 (6 digits)"),
        ("2018,prefecture,39,高知県,39,", "2018,prefecture,３９,高知県,39,",
         "national.csv:7: code: '３９' is not a 都道府県番号 (01–47)"),
        ("2018,prefecture,39,高知県,39,", "2018,prefecture,38,高知県,39,",
         "national.csv:7: code: 38 is not prefecture 39"),
    ],
)  # fmt: skip
def test_national_codes_are_numbers_of_their_prefecture(
    inputs: Path, old: str, new: str, problem: str
) -> None:
    _national_with(inputs, old, new)
    with pytest.raises(InputFileError) as caught:
        read_inputs(inputs, load_rules(2020).rules)
    assert problem in [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("name", ['"丸亀市\n=1+1"', "丸亀市\u202e", "丸" * 101, "丸亀市\u200f"])
def test_national_names_are_printable_lines(inputs: Path, name: str) -> None:
    """A quoted line break, a bidi control or 10,000 characters in a name reached the
    terminal (a line ',x: 7,766,042,425円' of its own), the CSV and the workbook as they were."""
    _national_with(inputs, ",370023,丸亀市,", f",370023,{name},")
    with pytest.raises(InputFileError) as caught:
        read_inputs(inputs, load_rules(2020).rules)
    [problem] = [str(p) for p in caught.value.problems]
    assert ": name: " in problem and problem.startswith("national.csv:")
