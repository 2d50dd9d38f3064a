"""The parsed premium rules are kept between calls (issue 15 item 6), and a rule file replaced
while a server runs is read again: same content, same rules; other content, other rules."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import pytest

from kokuho.premiums import PremiumRuleError, load_premium_rules, shipped_municipalities
from kokuho.premiums import _rules as rules_module
from kokuho.premiums._rules import NationalRules, combine, parse_municipal, parse_national
from tests.premiumcases import DATA

SHIPPED = DATA / "municipal" / "fy2020" / "372013.yaml"


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder of local copies of the FY2020 municipal files, in a $KOKUHO_HOME of the
    test's own."""
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    folder = tmp_path / "home" / "data" / "premiums" / "municipal" / "fy2020"
    folder.mkdir(parents=True)
    return folder


def _per_capita(text: str, amount: int) -> str:
    old = parse_municipal(SHIPPED.read_text("utf-8"), str(SHIPPED)).parts.medical.per_capita
    assert f"per_capita: {old}" in text
    return text.replace(f"per_capita: {old}", f"per_capita: {amount}", 1)


def test_the_cached_rules_are_the_parsed_ones(local: Path) -> None:
    first = load_premium_rules(2020, "372013")
    assert load_premium_rules(2020, "372013") is first
    national = DATA / "national" / "fy2020.yaml"
    fresh = combine(
        parse_national(national.read_text("utf-8"), first.national_file),
        first.national_file,
        parse_municipal(SHIPPED.read_text("utf-8"), first.municipal_file),
        first.municipal_file,
    )
    assert fresh == first
    assert load_premium_rules(2020, "372021") != first


def test_a_file_replaced_with_the_same_size_and_mtime_is_read_again(local: Path) -> None:
    shipped = SHIPPED.read_text("utf-8")
    copy = local / "372013.yaml"
    one, two = _per_capita(shipped, 11111), _per_capita(shipped, 22222)
    assert len(one.encode()) == len(two.encode())
    copy.write_text(one, "utf-8")
    assert load_premium_rules(2020, "372013").municipal.parts.medical.per_capita == 11111
    stat = copy.stat()
    copy.write_text(two, "utf-8")
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # a replacement within one tick
    assert copy.stat().st_size == stat.st_size
    assert load_premium_rules(2020, "372013").municipal.parts.medical.per_capita == 22222
    copy.unlink()
    shipped_rules = load_premium_rules(2020, "372013")
    assert shipped_rules.municipal.parts.medical.per_capita not in (11111, 22222)
    assert shipped_rules.municipal_file != str(copy)


def test_a_bad_replacement_is_refused_every_time_and_a_fix_is_taken(local: Path) -> None:
    good = load_premium_rules(2020, "372013")
    copy = local / "372013.yaml"
    shipped = SHIPPED.read_text("utf-8")
    copy.write_text(shipped.replace("    per_household:", "    cap: 640000\n    per_household:", 1))
    for _ in range(2):  # a refused file is not kept: refused again, never served from the cache
        with pytest.raises(PremiumRuleError, match="640,000 is above the 政令 cap"):
            load_premium_rules(2020, "372013")
    copy.write_text(shipped, "utf-8")
    fixed = load_premium_rules(2020, "372013")
    assert fixed.municipal == good.municipal
    assert fixed.municipal_file == str(copy)


def test_the_cache_is_bounded(local: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules_module, "_PARSED_SIZE", 2)
    shipped = SHIPPED.read_text("utf-8")
    copy = local / "372013.yaml"
    for amount in range(30001, 30006):
        copy.write_text(_per_capita(shipped, amount), "utf-8")
        assert load_premium_rules(2020, "372013").municipal.parts.medical.per_capita == amount
        assert len(rules_module._PARSED) <= 2


def test_the_national_file_is_parsed_once_for_every_municipality(
    local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules_module, "_PARSED", OrderedDict())
    monkeypatch.setattr(rules_module, "_NATIONAL", OrderedDict())
    calls: list[str] = []
    original = rules_module.parse_national

    def counted(text: str, name: str) -> NationalRules:
        calls.append(name)
        return original(text, name)

    monkeypatch.setattr(rules_module, "parse_national", counted)
    loaded = [load_premium_rules(2021, code) for code in shipped_municipalities(2021)]
    assert len(calls) == 1 and len(loaded) == 17
    assert len({id(r.national) for r in loaded}) == 1
    # A local copy of the national file replaces it for every municipality.
    national = local.parents[1] / "national"
    national.mkdir()
    text = (DATA / "national" / "fy2021.yaml").read_text("utf-8")
    (national / "fy2021.yaml").write_text(text + "\n# a local copy\n", "utf-8")
    again = [load_premium_rules(2021, code) for code in shipped_municipalities(2021)[:3]]
    assert len(calls) == 2
    assert {r.national_file for r in again} == {str(national / "fy2021.yaml")}
