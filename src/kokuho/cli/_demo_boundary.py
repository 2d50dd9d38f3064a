"""The border part of ``kokuho demo`` (docs/boundary.md, "In the demo"): the §110-2(2)
double-payment cases opened from the planted retroactive enrolments and a few walked through
their steps, and the planted dependants file checked (docs/dependants.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from kokuho.boundary import (
    Case,
    CaseError,
    Evidence,
    check_residency_file,
    decide,
    judge,
    open_cases,
    record_loss,
)
from kokuho.cli._boundary import ServiceAudit
from kokuho.registry import tables as t
from kokuho.synth import Manifest

#: The staff member the demo records its steps as (shown in each step and the audit log).
DEMO_STAFF = "デモ 担当者"


def load_boundary(engine: sa.Engine, data: Path, manifest: Manifest, on: dt.date) -> dict[str, Any]:
    """Opens the cases of every municipality on ``on`` and takes the first no-fault case and
    the first at-fault one through ①②③, a second no-fault case through ① and ②, so the
    dashboard shows every stage; checks the dependants file."""
    audit = ServiceAudit(engine)
    try:
        with engine.connect() as connection:
            codes = sorted(
                code
                for code in connection.execute(
                    sa.select(t.insurers.c.municipality_code).where(
                        t.insurers.c.kind == "kokuho_municipal"
                    )
                ).scalars()
                if code
            )
        cases = [
            c for code in codes for c in open_cases(engine, code, on, actor="demo", audit=audit)
        ]
        steps = _walk(engine, data, cases, on, audit)
    finally:
        audit.close()
    checked = check_residency_file(data / "dependants" / "dependants.csv")
    outcomes = {o: checked.count(o) for o in ("認定", "不認定", "要確認")}
    return {
        "opened_on": on.isoformat(),
        "cases": len(cases),
        "planted": len(manifest.retroactive),
        "months": sum(c.months for c in cases),
        "premium_of_months_yen": sum(c.premium_of_months for c in cases),
        "with_barred_years": sum(1 for c in cases if c.barred_years(on)),
        "walked": steps,
        "dependants": {
            "rows": len(checked.rows),
            "planted": len(manifest.dependants),
            **outcomes,
        },
    }


def _walk(
    engine: sa.Engine, data: Path, cases: list[Case], on: dt.date, audit: ServiceAudit
) -> dict[str, int]:
    feed = data / "boundary-feed"
    walked = {"decided": 0, "judged": 0}
    # A case is "at fault" when its 資格決定日 followed the 取得日 within weeks: the employer
    # filed on time and the member never reported it (the synth plants both kinds).
    no_fault = [c for c in cases if _late(c)]
    at_fault = [c for c in cases if not _late(c)]
    plan = [(c, True, True) for c in no_fault[:1]] + [(c, False, True) for c in at_fault[:1]]
    plan += [(c, True, False) for c in no_fault[1:2]]
    for case, innocent, reduce in plan:
        try:
            record_loss(engine, case.case_id, on, feed, actor=DEMO_STAFF, audit=audit)
            if innocent:
                assert case.employee_decided_on is not None
                evidence = Evidence(
                    "資格決定通知書", case.employee_acquired_on, case.employee_decided_on,
                    "日本年金機構 香川事務センター",
                )  # fmt: skip
                judge(engine, case.case_id, on, no_fault=True, evidence=evidence,
                      actor=DEMO_STAFF, audit=audit)  # fmt: skip
            else:
                judge(engine, case.case_id, on, no_fault=False, reason="本人の脱退届の遅延",
                      actor=DEMO_STAFF, audit=audit)  # fmt: skip
            if reduce:
                decide(engine, case.case_id, on, actor=DEMO_STAFF, audit=audit)
                walked["decided"] += 1
            else:
                walked["judged"] += 1
        except CaseError as refused:
            raise ValueError(f"boundary case {case.case_id}: {refused}") from None
    return walked


def _late(case: Case) -> bool:
    decided = case.employee_decided_on
    return decided is not None and (decided - case.employee_acquired_on).days > 365


def print_boundary(boundary: dict[str, Any]) -> None:
    """The demo report's line for the border."""
    d = boundary["dependants"]
    click.echo(
        f"二重払い (§110-2): {boundary['cases']} cases opened on {boundary['opened_on']} "
        f"({boundary['planted']} planted), {boundary['months']} months, "
        f"{boundary['premium_of_months_yen']:,}円 of 国保 premium charged for them; "
        f"{boundary['with_barred_years']} with years beyond the §110-2(1) limit; "
        f"{boundary['walked']['decided']} decided (減額賦課決定), "
        f"{boundary['walked']['judged']} judged. 被扶養者の国内居住要件: "
        f"{d['rows']:,} applications, "
        f"認定 {d['認定']:,}, 不認定 {d['不認定']}, 要確認 {d['要確認']} ({d['planted']} planted)"
    )
