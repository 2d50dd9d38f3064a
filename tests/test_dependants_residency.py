"""被扶養者の国内居住要件 for one dependant, each case worked from the rules
(incentives-grants-premiums.md §4: 健保法§3(7), 健保則§37-2 and §37-3, 保保発1113第1号), and the
rule table's own validation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kokuho.boundary import (
    DependantFacts,
    ResidencyInputError,
    ResidencyRules,
    Visa,
    check_dependant,
    load_residency_rules,
    parse_evidence,
    parse_exception,
    parse_residency_rules,
    parse_visa,
)
from kokuho.store import FileProblemsError

IN_FORCE = dt.date(2020, 4, 1)
SHIPPED = Path(__file__).resolve().parents[1] / "src/kokuho/data/boundary/dependant_residency.yaml"


@pytest.fixture(scope="module")
def rules() -> ResidencyRules:
    return load_residency_rules()


def abroad(
    exception: str | None, *documents: str, until: dt.date | None = None, on: dt.date = IN_FORCE
) -> DependantFacts:
    return DependantFacts(
        on, "abroad", exception=exception, evidence=frozenset(documents), exception_until=until
    )


# The evidence each exception's note lists (健保則§37-2 ①–⑤, the kenpo.gr.jp table).
FULL_EVIDENCE = {
    "1": ("査証", "学生証", "在学証明書"),  # 留学
    "2": ("査証", "海外赴任辞令", "居住証明"),  # 同行家族
    "3": ("査証", "派遣機関証明"),  # 一時的な海外渡航
}


@pytest.mark.parametrize("code", ["1", "2", "3"])
def test_an_exception_with_its_evidence_is_recognised(code: str, rules: ResidencyRules) -> None:
    decision = check_dependant(abroad(code, *FULL_EVIDENCE[code]), rules)
    assert (decision.outcome, decision.rule) == ("認定", f"exception:{code}")
    assert decision.missing_evidence == ()
    assert f"37-2 第{code}号" in decision.source


@pytest.mark.parametrize("code", ["1", "2", "3"])
def test_an_exception_without_evidence_is_to_be_checked_naming_every_document(
    code: str, rules: ResidencyRules
) -> None:
    decision = check_dependant(abroad(code), rules)
    assert (decision.outcome, decision.rule) == ("要確認", f"exception:{code}")
    assert decision.missing_evidence == FULL_EVIDENCE[code]


def test_part_of_the_evidence_names_only_what_is_missing(rules: ResidencyRules) -> None:
    decision = check_dependant(abroad("1", "査証", "学生証"), rules)
    assert decision.outcome == "要確認"
    assert decision.missing_evidence == ("在学証明書",)
    # A document of another exception does not stand in for the student's 在学証明書.
    other = check_dependant(abroad("1", "査証", "学生証", "海外赴任辞令"), rules)
    assert other.missing_evidence == ("在学証明書",)


def test_a_relationship_arising_during_the_posting_needs_the_birth_or_the_marriage(
    rules: ResidencyRules,
) -> None:
    # ④: a child born abroad (出生証明) or a spouse married there (婚姻証明): one of them.
    born = check_dependant(abroad("4", "出生証明"), rules)
    married = check_dependant(abroad("4", "婚姻証明"), rules)
    assert (born.outcome, married.outcome) == ("認定", "認定")
    assert born.rule == "exception:4"
    without = check_dependant(abroad("4"), rules)
    assert without.outcome == "要確認"
    assert set(without.missing_evidence) == {"出生証明", "婚姻証明"}


def test_other_bases_of_life_in_japan_are_always_the_insurers_judgement(
    rules: ResidencyRules,
) -> None:
    # ⑤ has no document list: with or without papers the answer waits for the insurer.
    without = check_dependant(abroad("5"), rules)
    with_papers = check_dependant(abroad("5", "査証", "居住証明"), rules)
    for decision in (without, with_papers):
        assert (decision.outcome, decision.rule) == ("要確認", "exception:5")
        assert "個別判断" in decision.reason
        assert decision.missing_evidence == ()


def test_abroad_without_an_exception_is_refused(rules: ResidencyRules) -> None:
    decision = check_dependant(abroad(None), rules)
    assert (decision.outcome, decision.rule) == ("不認定", "principle")


def test_a_residents_card_in_japan_needs_no_exception(rules: ResidencyRules) -> None:
    japanese = check_dependant(DependantFacts(IN_FORCE, "domestic"), rules)
    assert (japanese.outcome, japanese.rule, japanese.notes) == ("認定", "principle", ())
    foreigner = DependantFacts(IN_FORCE, "domestic", visa=Visa("家族滞在"))
    assert check_dependant(foreigner, rules).outcome == "認定"
    # An exception claimed needlessly changes nothing, and the clerk is told it is not needed.
    claimed = check_dependant(DependantFacts(IN_FORCE, "domestic", exception="1"), rules)
    assert claimed.outcome == "認定" and claimed.notes == ("住民票があるため例外の申立ては不要",)


@pytest.mark.parametrize(
    ("visa", "rule"),
    [
        ("特定活動:25", "exclusion:medical_stay"),  # 医療滞在 (入院・医療)
        ("特定活動:26", "exclusion:medical_stay_carer"),  # その世話をする者
        ("特定活動:40", "exclusion:long_stay"),  # ロングステイ (告示番号 unconfirmed)
        ("特定活動:41", "exclusion:long_stay"),
    ],
)
def test_the_excluded_visas_are_refused_even_with_a_residents_card(
    visa: str, rule: str, rules: ResidencyRules
) -> None:
    facts = DependantFacts(IN_FORCE, "domestic", visa=parse_visa(visa, rules))
    decision = check_dependant(facts, rules)
    assert (decision.outcome, decision.rule) == ("不認定", rule)
    assert "37-3" in decision.source
    # The long-stay 告示 numbers are not in the retrieved sources: the answer says so.
    assert decision.confirmed is (rule != "exclusion:long_stay")


def test_the_long_stay_notice_numbers_are_marked_unconfirmed(rules: ResidencyRules) -> None:
    (long_stay,) = [e for e in rules.exclusions if e.code == "long_stay"]
    text = SHIPPED.read_text(encoding="utf-8")
    assert long_stay.notices == (40, 41)
    assert "notices_confirmed: false" in text


def test_other_specified_activities_are_not_excluded_and_an_unnumbered_one_is_checked(
    rules: ResidencyRules,
) -> None:
    # 告示5号 (ワーキングホリデー in Japan) is not among §37-3's groups.
    other = DependantFacts(IN_FORCE, "domestic", visa=parse_visa("特定活動:5", rules))
    assert check_dependant(other, rules).outcome == "認定"
    unnumbered = DependantFacts(IN_FORCE, "domestic", visa=parse_visa("特定活動", rules))
    decision = check_dependant(unnumbered, rules)
    assert (decision.outcome, decision.rule) == ("要確認", "visa_notice_unknown")


@pytest.mark.parametrize(
    ("day", "outcome", "rule"),
    [
        (dt.date(2020, 3, 31), "認定", "not_in_force"),
        (dt.date(2020, 4, 1), "不認定", "principle"),
    ],
)
def test_the_requirement_applies_from_2020_04_01(
    day: dt.date, outcome: str, rule: str, rules: ResidencyRules
) -> None:
    decision = check_dependant(abroad(None, on=day), rules)
    assert (decision.outcome, decision.rule) == (outcome, rule)


def test_the_exclusions_too_apply_only_from_2020_04_01(rules: ResidencyRules) -> None:
    visa = parse_visa("特定活動:25", rules)
    before = DependantFacts(dt.date(2020, 3, 31), "domestic", visa=visa)
    after = DependantFacts(dt.date(2020, 4, 1), "domestic", visa=visa)
    assert check_dependant(before, rules).outcome == "認定"
    assert check_dependant(after, rules).outcome == "不認定"


def test_an_exception_holds_through_its_last_day(rules: ResidencyRules) -> None:
    until = dt.date(2021, 3, 31)  # the 在学証明書's last day of study
    documents = FULL_EVIDENCE["1"]
    last_day = check_dependant(abroad("1", *documents, until=until, on=until), rules)
    day_after = check_dependant(abroad("1", *documents, until=until, on=dt.date(2021, 4, 1)), rules)
    assert last_day.outcome == "認定"
    assert (day_after.outcome, day_after.rule) == ("要確認", "exception:1")
    assert "2021-03-31 に終了" in day_after.reason


def test_unknown_residence_is_to_be_checked(rules: ResidencyRules) -> None:
    decision = check_dependant(DependantFacts(IN_FORCE, None), rules)
    assert (decision.outcome, decision.rule) == ("要確認", "residence_unknown")


def test_the_insured_person_is_not_judged(rules: ResidencyRules) -> None:
    with pytest.raises(ResidencyInputError) as caught:
        check_dependant(DependantFacts(IN_FORCE, "abroad", relationship=1), rules)
    assert caught.value.field == "relationship"


@pytest.mark.parametrize(
    ("parse", "raw", "field"),
    [
        (parse_exception, "6", "residency_exception"),
        (parse_exception, "留学", "residency_exception"),
        (parse_evidence, "査証;パスポート", "exception_evidence"),
        (parse_visa, "観光", "visa_status"),
        (parse_visa, "永住者:3", "visa_status"),
        (parse_visa, "特定活動:0", "visa_status"),
    ],
)
def test_bad_values_name_their_field(
    parse: object, raw: str, field: str, rules: ResidencyRules
) -> None:
    with pytest.raises(ResidencyInputError) as caught:
        parse(raw, rules)  # type: ignore[operator]
    assert caught.value.field == field


def test_full_width_input_is_read_half_width(rules: ResidencyRules) -> None:
    assert parse_visa("特定活動：２５", rules) == Visa("特定活動", 25)
    assert parse_exception("①", rules) == "1" and parse_exception("３", rules) == "3"
    assert parse_evidence(" 査証 ; 学生証 ", rules) == frozenset({"査証", "学生証"})


def _broken(old: str, new: str) -> str:
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "needle", "field", "reason"),
    [
        ("    needs: all\n", "    needs: most\n", "needs: most", "exceptions[0].needs", "'most'"),
        ("    short: 同行家族\n", "    shrt: 同行家族\n", "shrt:", "exceptions[1].shrt",
         "unknown key"),
        ('  - code: "2"\n', '  - code: "1"\n', 'code: "1"\n    name: 外国に赴任',
         "exceptions[1].code", "listed twice"),
        ("    notices: [26]\n", "    notices: [twenty-six]\n", "notices: [twenty",
         "exclusions[1].notices[0]", "whole number"),
        ("  from: 2020-04-01\n", "  from: 2020-04-31\n", "from: 2020-04-31", "in_force.from",
         "not a date"),
        ("    visa: 特定活動\n    notices: [26]", "    visa: 特定活働\n    notices: [26]",
         "visa: 特定活働", "exclusions[1].visa", "not among visa_statuses.names"),
    ],
)  # fmt: skip
def test_a_broken_rule_table_names_file_line_and_field(
    old: str, new: str, needle: str, field: str, reason: str
) -> None:
    text = _broken(old, new)
    with pytest.raises(FileProblemsError) as caught:
        parse_residency_rules(text, "rules.yaml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == ("rules.yaml", field)
    assert problem.line == _line_of(text, needle)
    assert reason in problem.reason


def test_a_missing_date_names_its_parent() -> None:
    text = _broken("  from: 2020-04-01\n", "")
    with pytest.raises(FileProblemsError, match=r"in_force\.from: is missing"):
        parse_residency_rules(text, "rules.yaml")


def test_a_rule_without_its_source_is_refused() -> None:
    text = _broken(
        "    source: 健保則§37-2 第1号; https://www.kenpo.gr.jp/kubota/contents/sinsei/"
        "kokunaiyoken.html\n",
        "",
    )
    with pytest.raises(FileProblemsError, match=r"exceptions\[0\]\.source: is missing"):
        parse_residency_rules(text, "rules.yaml")


def test_a_local_copy_replaces_the_shipped_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An insurer that accepts a 査証 alone for a tourist (③) says so in its own copy.
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    copy = tmp_path / "data" / "boundary" / "dependant_residency.yaml"
    copy.parent.mkdir(parents=True)
    text = SHIPPED.read_text(encoding="utf-8")
    at = text.index('  - code: "3"')
    local = text[:at] + text[at:].replace("    needs: all\n", "    needs: any\n", 1)
    copy.write_text(local, encoding="utf-8")
    tourist = abroad("3", "査証")
    assert check_dependant(tourist, load_residency_rules()).outcome == "認定"
    copy.write_text(local.replace("    needs: any\n", "    needs: some\n", 1), encoding="utf-8")
    with pytest.raises(FileProblemsError) as caught:
        load_residency_rules()
    (problem,) = caught.value.problems
    assert problem.file == str(copy) and problem.field == "exceptions[2].needs"


def test_the_shipped_table_judges_a_tourist_with_a_visa_alone_as_to_be_checked(
    rules: ResidencyRules,
) -> None:
    decision = check_dependant(abroad("3", "査証"), rules)
    assert (decision.outcome, decision.missing_evidence) == ("要確認", ("派遣機関証明",))
    assert decision.confirmed is False  # the `needs: all` it rests on is unconfirmed
