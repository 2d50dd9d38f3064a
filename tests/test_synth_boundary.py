"""The planted border cases of the synthetic prefecture (issue 13 item 6): the boundary
finders on a generated, loaded prefecture find exactly the planted retroactive enrolments,
and the dependants' residency check flags exactly the planted applications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.boundary import check_residency_file, open_cases, recheck_list
from kokuho.registry import import_changes, load_insurers
from kokuho.registry import tables as t
from kokuho.synth import Manifest, generate

PERSONS = 1500
SEED = 11


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("boundary") / "pref"
    manifest = generate(
        out, seed=SEED, persons=PERSONS, years=3,
        checkups=False, claims=False, incentives=False, care=False,
    )  # fmt: skip
    return out, manifest


class Audit:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[int]]] = []

    def __call__(
        self, action: str, actor: str, person_ids: Sequence[int], detail: Mapping[str, Any]
    ) -> None:
        self.calls.append((action, actor, list(person_ids)))


def _by_month(path: Path) -> tuple[str, str]:
    # Filing order, as the demo and `kokuho registry import DIR` load them.
    return path.stem[-7:], str(path)


def test_the_finders_open_exactly_the_planted_retroactive_enrolments(
    run: tuple[Path, Manifest], engine: sa.Engine
) -> None:
    out, manifest = run
    assert manifest.counts["boundary_retroactive_no_fault"] >= 3
    assert manifest.counts["boundary_retroactive_at_fault"] >= 2
    load_insurers(engine, out / "insurers.csv")
    for path in sorted((out / "changes").rglob("*.csv"), key=_by_month):
        assert not import_changes(engine, path).errors, path
    with engine.connect() as connection:
        codes = sorted(
            connection.execute(
                sa.select(t.insurers.c.municipality_code).where(
                    t.insurers.c.kind == "kokuho_municipal"
                )
            ).scalars()
        )
        insured = {
            row.coverage_id: (row.insurer_number, row.symbol, row.number, row.branch)
            for row in connection.execute(sa.select(t.coverages))
        }
    audit = Audit()
    on = manifest.end + dt.timedelta(days=1)
    found = set()
    for code in codes:
        for case in open_cases(engine, code, on, actor="test", audit=audit):
            found.add(
                (case.municipality, insured[case.kokuho_coverage_id],
                 insured[case.employee_coverage_id], case.employee_acquired_on,
                 case.employee_decided_on)
            )  # fmt: skip
    planted = {
        (p.municipality, (p.kokuho_insurer, p.kokuho_symbol, p.kokuho_number, p.kokuho_branch),
         (p.employee_insurer, p.employee_symbol, p.employee_number, p.employee_branch),
         p.acquired_on, p.decided_on)
        for p in manifest.retroactive
    }  # fmt: skip
    assert found == planted
    # The older planted 資格重複 (filed late, no 資格決定日) are overlaps, not boundary cases.
    assert manifest.counts["overlaps_planted"] > 0
    # A rerun opens nothing new.
    assert all(not open_cases(engine, c, on, actor="test", audit=audit) for c in codes)
    assert {action for action, _, _ in audit.calls} == {"boundary_open"}


def test_no_fault_cases_reach_back_years_and_at_fault_ones_were_confirmed_at_once(
    run: tuple[Path, Manifest],
) -> None:
    _, manifest = run
    end = manifest.end
    for p in manifest.retroactive:
        assert p.acquired_on.day == 1 and p.filed <= end
        if p.fault:
            # The employer filed on time: 決定 within three weeks of 取得.
            assert 5 <= (p.decided_on - p.acquired_on).days <= 20
        else:
            # A 未適用事業所 enrolled 2–3 years back, confirmed in the last months.
            assert (p.decided_on - p.acquired_on).days > 2 * 365 - 90
            assert (end - p.decided_on).days <= 80


def test_the_residency_check_flags_exactly_the_planted_dependants(
    run: tuple[Path, Manifest],
) -> None:
    out, manifest = run
    checked = check_residency_file(out / "dependants" / "dependants.csv")
    assert len(checked.rows) == manifest.counts["boundary_dependants_rows"]
    planted = {p.application_id: p for p in manifest.dependants}
    got = {row.row_id: row for row in checked.rows}
    # Every ordinary application (a 住民票 in Japan, no visa issue) is 認定 by the principle.
    for row_id, row in got.items():
        if row_id not in planted:
            assert (row.decision.outcome, row.decision.rule) == ("認定", "principle"), row_id
    # The planted ones, by hand from docs/dependants.md (the shipped rule table): ①–③ need
    # every listed document, ④ one of 出生証明/婚姻証明, ⑤ is the insurer's judgement; the
    # excluded 特定活動 告示 25, 26, 40, 41 are 不認定 even with a 住民票.
    expected = {
        ("1", ("査証", "学生証", "在学証明書")): ("認定", ()),
        ("1", ("査証", "学生証")): ("要確認", ("在学証明書",)),
        ("2", ("査証", "海外赴任辞令", "居住証明")): ("認定", ()),
        ("2", ("査証", "海外赴任辞令")): ("要確認", ("居住証明",)),
        ("3", ("査証", "派遣機関証明")): ("認定", ()),
        ("3", ("査証",)): ("要確認", ("派遣機関証明",)),
        ("4", ("出生証明",)): ("認定", ()),
        ("4", ()): ("要確認", ("出生証明", "婚姻証明")),
        ("5", ()): ("要確認", ()),
    }
    exclusions = {
        "特定活動:25": "exclusion:medical_stay",
        "特定活動:26": "exclusion:medical_stay_carer",
        "特定活動:40": "exclusion:long_stay",
        "特定活動:41": "exclusion:long_stay",
    }
    seen_exceptions, seen_visas = set(), set()
    for row_id, p in planted.items():
        decision = got[row_id].decision
        if p.exception:
            assert p.residence == "abroad"
            outcome, missing = expected[(p.exception, p.evidence)]
            assert decision.outcome == outcome == p.outcome, row_id
            assert decision.rule == f"exception:{p.exception}"
            assert set(decision.missing_evidence) == set(missing)
            seen_exceptions.add((p.exception, p.evidence))
        elif p.visa_status in exclusions:
            assert p.residence == "domestic"  # excluded although registered in Japan
            assert (decision.outcome, decision.rule) == ("不認定", exclusions[p.visa_status])
            seen_visas.add(p.visa_status)
        else:
            assert p.visa_status == "特定活動"  # no 告示 number: it might be an excluded one
            assert (decision.outcome, decision.rule) == ("要確認", "visa_notice_unknown")
        assert decision.rule == p.rule
    assert seen_exceptions == set(expected)
    assert seen_visas == set(exclusions)


def test_the_recheck_list_names_the_planted_exceptions_that_end(
    run: tuple[Path, Manifest],
) -> None:
    out, manifest = run
    on = manifest.end
    items = recheck_list([out / "dependants" / "dependants.csv"], on=on, within_days=365 * 4)
    ending = {p.application_id for p in manifest.dependants if p.exception_until is not None}
    assert ending and {i.row_id for i in items} == ending
    for item in items:
        assert item.status == ("ended" if item.exception_until < on else "ending")
