"""What-if: points and yen before and after, for the unit changed and for every other (shares
move); changes of answers and of the prefecture; errors; the ranking of improvements."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from kokuho.incentives import (
    Change,
    InputFileError,
    Scoreboard,
    build_scoreboard,
    example_inputs,
    improvements,
    parse_rules,
    prefecture_scoreboard,
    read_inputs,
    what_if,
)
from tests.test_incentives_allocate import NATIONAL, RULES


@pytest.fixture
def small(tmp_path: Path) -> Scoreboard:
    (tmp_path / "national.csv").write_text(NATIONAL, encoding="utf-8")
    rules = parse_rules(RULES.replace("POLICY", "floor_at_zero"), "test.yaml")
    return build_scoreboard(rules, read_inputs(tmp_path, rules.rules), prefecture="37")


def test_a_what_if_by_hand(small: Scoreboard) -> None:
    # 丸亀市's rate 0.4 → 0.5 reaches the threshold: 20 → 50 points. Weights become 高松
    # 10,000, 丸亀 5,000, 札幌 21,000, 函館 0, 小樽 5,000 (Σ 41,000): 243,902.44, 121,951.22,
    # 512,195.12, 121,951.22 → floors 999,999, the last yen to 高松 (.44).
    result = what_if(small, ["丸亀市:rate=50%"])
    marugame = result.row("municipal", "丸亀市")
    takamatsu = result.row("municipal", "高松市")
    assert (marugame.points_before, marugame.points_after) == (20, 50)
    assert (marugame.yen_before, marugame.yen_after) == (52_631, 121_951)
    assert (takamatsu.yen_before, takamatsu.yen_after) == (263_158, 243_903)
    [others] = result.others
    # 札幌 552,632 → 512,195 and 小樽 131,579 → 121,951: −50,065 over two units.
    assert (others.yen_before, others.yen_after, others.units_moved) == (684_211, 634_146, 2)
    assert marugame.yen_change + takamatsu.yen_change + others.yen_change == 0
    # The scoreboard after carries the new reasons; the one before is unchanged.
    after = result.after.part("municipal").unit_score("丸亀市").indicator("x")
    assert after.tiers[0].status == "given" and "50.0%" in after.tiers[0].reason_ja
    assert small.part("municipal").unit_score("丸亀市").points == 20


def test_what_ifs_chain_and_answers_change(small: Scoreboard) -> None:
    first = what_if(small, [Change("丸亀市", "rate", 0.5)])
    second = what_if(first.after, ["丸亀市:計画=late"])  # the item by its label
    row = second.row("municipal", "370023")
    assert (row.points_before, row.points_after) == (50, -20)
    assert row.yen_after == 0  # a negative total counts as 0
    both = what_if(small, ["丸亀市:rate=0.5", "丸亀市:plan=late"])
    assert both.row("municipal", "丸亀市").points_after == -20


def test_changes_are_checked(small: Scoreboard) -> None:
    with pytest.raises(KeyError, match="not a home municipality"):
        what_if(small, ["札幌市:rate=0.5"])  # a backdrop unit
    with pytest.raises(KeyError, match="not a field or effort item"):
        what_if(small, ["丸亀市:speed=0.5"])
    with pytest.raises(ValueError, match="is not a rate"):
        what_if(small, ["丸亀市:rate=45"])
    for negative in ("-0.5", "-50%", "-0.01"):  # a 受診率 below 0 (the rules' rate is not signed)
        with pytest.raises(ValueError, match="^rate: .* is not a rate"):
            what_if(small, [f"丸亀市:rate={negative}"])
    with pytest.raises(ValueError, match="not one of"):
        what_if(small, ["丸亀市:plan=maybe"])
    with pytest.raises(ValueError, match="UNIT:FIELD=VALUE"):
        Change.parse("丸亀市 rate 0.5")
    assert Change.parse(" 坂出市 : checkup_rate = 45% ") == Change("坂出市", "checkup_rate", 0.45)
    assert Change.parse("高松市:hotegai_kurire=none") == Change("高松市", "hotegai_kurire", "none")


def test_a_change_of_the_prefecture_moves_only_the_prefecture_parts() -> None:
    board = prefecture_scoreboard(None, None, 2020, example_inputs(), prefecture="37")
    # 香川県's prefecture-wide generic share 77 % → 80 %: 指標① 後発医薬品 上位5割 10 → 80 %
    # target 20; the municipalities are not touched.
    result = what_if(board, ["香川県:generic_share=80%"])
    kagawa = result.row("prefectural", "香川県")
    assert kagawa.points_after - kagawa.points_before == 10
    assert all(r.yen_change == 0 for r in result.rows if r.part == "municipal")
    assert result.others[1].yen_change == -kagawa.yen_change


def _national_with(folder: Path, column: str, value: str) -> Path:
    """The example inputs with ``column`` of the first row of national.csv set to ``value``."""
    shutil.copytree(example_inputs(), folder)
    with (folder / "national.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][rows[0].index(column)] = value
    with (folder / "national.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return folder


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("checkup_eligible", "-5", "is not a whole number of persons up to 200,000,000"),
        ("checkup_eligible", "2.5", "is not a whole number of persons up to 200,000,000"),
        ("checkup_eligible", "1" + "0" * 30, "is not a whole number of persons up to 200,000,000"),
        ("checkup_eligible", "200000001", "is not a whole number of persons up to 200,000,000"),
        ("checkup_eligible", "1e999", "is not a finite number"),
        ("adj_demand", "1e999", "is not a finite number"),
        ("regional_index", "-1e999", "is not a finite number"),
        # '45%' of a figure that is no rate was 0.45: national.csv refuses it.
        ("adj_demand", "45%", "only rates take %"),
        ("checkup_eligible", "50%", "only rates take %"),
    ],
)
def test_a_change_is_bounded_as_the_input_files_bound_it(
    tmp_path: Path, field: str, value: str, reason: str
) -> None:
    """A count of persons of -5, 2.5 or 10**30, or a figure of 1e999 (inf), was scored: the
    input files refuse each, and so does a what-if, naming the field."""
    board = prefecture_scoreboard(None, None, 2020, example_inputs(), prefecture="37")
    rules = board.state.rules.rules
    with pytest.raises(InputFileError, match=f"national.csv:2: {field}: .*{reason}"):
        read_inputs(_national_with(tmp_path / "inputs", field, value), rules)
    with pytest.raises(ValueError) as bad:
        what_if(board, [f"直島町:{field}={value}"])
    assert str(bad.value).startswith(f"{field}: ") and reason in str(bad.value)


def test_a_count_within_the_bounds_is_a_change() -> None:
    board = prefecture_scoreboard(None, None, 2020, example_inputs(), prefecture="37")
    for value in ("0", "200,000,000", "500"):
        result = what_if(board, [f"直島町:checkup_eligible={value}"])
        assert result.changes[0].value == float(value.replace(",", ""))


def test_improvements_rank_the_next_tiers_by_yen() -> None:
    board = prefecture_scoreboard(None, None, 2020, example_inputs(), prefecture="37")
    found = improvements(board, unit="直島町")
    assert [i.yen_gain for i in found] == sorted((i.yen_gain for i in found), reverse=True)
    best = found[0]
    # 0.69 → 0.80: 使用割合① +70 and, up more than a point on 70 %, ③ +30.
    assert (best.field, best.before, best.after, best.points_gain) == (
        "generic_share", 0.69, 0.8, 100,
    )  # fmt: skip
    assert best.yen_gain == what_if(board, [best.change]).row("municipal", "直島町").yen_change
    # The next tier of 特定健診 for 直島町 (40 %, 上位5割 in its band) is 上位3割 at 41 %.
    checkup = [i for i in found if i.field == "checkup_rate"]
    assert [(round(float(i.after), 4), i.points_gain) for i in checkup] == [(0.41, 15)]
    # Removing the 法定外繰入 minus points by an answer.
    assert any(i.field == "hotegai_kurire" and i.after == "none" for i in found)


@pytest.mark.parametrize("text", ["٨٠%", "8_0%", "८०%", "𝟖𝟎%", "0x10", "nan", "inf%"])
def test_a_change_s_number_is_ascii_or_full_width_digits(small: Scoreboard, text: str) -> None:
    """float() reads other scripts' digits ('٨٠' is 80), '_' between digits and padding: a
    change the user did not type as a number must not move points and yen."""
    assert Change.parse(f"丸亀市:rate={text}").value == f"{text}".strip()
    with pytest.raises(ValueError, match="takes a number"):
        what_if(small, [f"丸亀市:rate={text}"])


def test_a_full_width_change_is_read_as_typed() -> None:
    assert Change.parse("坂出市:checkup_rate=４５％") == Change("坂出市", "checkup_rate", 0.45)
    assert Change.parse("坂出市:checkup_rate=０．４５") == Change("坂出市", "checkup_rate", 0.45)


def test_a_percentage_change_is_the_decimal_it_says() -> None:
    """'56.7%' was 56.7 / 100 = 0.5670000000000001 and '1.4%' 0.013999999999999999: a
    what-if at a threshold's exact value answered for a value beside it."""
    off = [
        f"{i / 10:.1f}%"
        for i in range(1001)
        if Change.parse(f"坂出市:checkup_rate={i / 10:.1f}%").value != float(f"{i / 1000:.3f}")
    ]
    assert off == []
