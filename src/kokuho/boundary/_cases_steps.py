"""The case workflow, each step recorded (append-only) and audited:

① 資格喪失 (_cases_loss.py): the 国保 loss dated the employee 資格取得日, imported into the
   register as a change-feed file, and the ordinary 更正 of the years within the limit;
② the judgement whether the cause is 被保険者の責めに帰することのできない事由, with the evidence
   (資格決定通知書: 資格取得日 and 資格決定日, who decided, when) — or that it is the person's
   own fault (a late 脱退届), with the reason;
③ 減額賦課決定: per fiscal year a 更正 of the household (the years ① reduced are stated as
   reduced then); a year the §110-2(1) limit bars is reduced only under §110-2(2) (no
   fault), otherwise left with the reason; then 過誤納金 are
   settled (充当, then 還付 whose claim prescribes two years after the decision, §110(1)).

A judgement is replaced only by a new one naming it (``supersedes``); nothing is edited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from kokuho.boundary._cases_model import (
    Case,
    CaseAudit,
    CaseError,
    CaseYear,
    Evidence,
    Step,
    check_text,
)
from kokuho.boundary._cases_record import check_actor, open_case, record_step, reserve_case
from kokuho.boundary._cases_reserve import Reservation, fence
from kokuho.boundary._rules import load_boundary_rules
from kokuho.premiums import (
    PeriodLimitException,
    PremiumRuleError,
    RefundRefused,
    decide_refunds,
    explain_household,
    household_account,
    last_claim_day,
    load_premium_rules,
    pay_refund,
    reassess,
    settled_until,
    settlements,
    written_off_until,
)

#: The legal bases the notices and reasons name (domain notes §3).
LIMIT_RULE = "国民健康保険法第110条の2第1項"
EXCEPTION_RULE = "国民健康保険法第110条の2第2項"
PRESCRIPTION_RULE = "国民健康保険法第110条第1項"


def judge(
    engine: sa.Engine,
    case_id: int,
    decided_on: dt.date,
    *,
    no_fault: bool,
    evidence: Evidence | None = None,
    reason: str = "",
    supersedes: int | None = None,
    actor: str,
    audit: CaseAudit,
) -> Case:
    """② The judgement: ``no_fault`` (被保険者の責めに帰することのできない事由) needs the
    evidence whose 資格取得日 is the case's and whose 資格決定日 is later; a judgement of fault
    needs its ``reason`` (e.g. 本人の脱退届の遅延). A second judgement must name the one it
    supersedes; after the 減額賦課決定 none is taken."""
    check_actor(actor)
    check_text("reason", reason)
    if evidence is not None:
        check_text("document", evidence.document)
        check_text("decided_by", evidence.decided_by)
    case = open_case(engine, case_id)
    if case.current("reduction") is not None:
        raise CaseError(f"case {case_id}: the 減額賦課決定 is made; no new judgement")
    current = case.current("judgement")
    if current is not None and supersedes != current.step_id:
        raise CaseError(
            f"case {case_id} is judged (step {current.step_id}); a new judgement must "
            f"supersede it (supersedes={current.step_id})"
        )
    if current is None and supersedes is not None:
        raise CaseError(f"case {case_id} has no judgement {supersedes} to supersede")
    detail: dict[str, Any] = {"no_fault": no_fault, "reason": reason.strip()}
    if no_fault:
        if evidence is None or not evidence.document.strip() or not evidence.decided_by.strip():
            raise CaseError(
                f"case {case_id}: a no-fault judgement needs its evidence (document, "
                f"資格取得日, 資格決定日, who decided)"
            )
        if evidence.acquired_on != case.employee_acquired_on:
            raise CaseError(
                f"case {case_id}: the document's 資格取得日 {evidence.acquired_on} is not the "
                f"employee 資格取得日 {case.employee_acquired_on}"
            )
        rules = load_boundary_rules()
        if rules.evidence_decided_after_acquired and evidence.decided_on <= evidence.acquired_on:
            raise CaseError(
                f"case {case_id}: 資格決定日 {evidence.decided_on} is not after the 資格取得日 "
                f"{evidence.acquired_on}: nothing was filed retroactively"
            )
        if evidence.decided_on > decided_on:
            raise CaseError(f"case {case_id}: the document is dated after the judgement")
        detail["evidence"] = evidence.as_json()
    elif not reason.strip():
        raise CaseError(f"case {case_id}: a judgement of fault must give its reason")
    with reserve_case(case, engine, "judgement", actor) as reservation:
        audit("boundary_judgement", actor, [case.person_id], {"case_id": case_id})
        return record_step(engine, case, reservation, "judgement", decided_on, actor, detail,
                       supersedes)  # fmt: skip


def decide(
    engine: sa.Engine, case_id: int, decided_on: dt.date, *, actor: str, audit: CaseAudit
) -> Case:
    """③ 減額賦課決定 and the settlement of what was overpaid. Needs ① and ②. Per year: within
    the §110-2(1) limit an ordinary 減額賦課; beyond it only on a no-fault judgement (§110-2(2)),
    else the year stays as it is and the reason says so."""
    check_actor(actor)
    case = open_case(engine, case_id)
    loss, judgement = case.current("loss"), case.current("judgement")
    if loss is None or judgement is None:
        raise CaseError(f"case {case_id}: record the loss (①) and the judgement (②) first")
    if case.current("reduction") is not None:
        raise CaseError(f"case {case_id}: the 減額賦課決定 is already made")
    if decided_on < judgement.decided_on:
        raise CaseError(f"case {case_id}: the decision is dated before the judgement")
    no_fault = bool(judgement.detail["no_fault"])
    in_force = load_boundary_rules().exception_in_force_from
    exception = None
    if no_fault:
        ev = judgement.detail["evidence"]
        exception = PeriodLimitException(
            "被保険者の責めに帰することのできない事由による被用者保険との適用関係の調整",
            f"{ev['document']} (資格取得日 {ev['acquired_on']}, 資格決定日 {ev['decided_on']}, "
            f"{ev['decided_by']})",
            judgement.decided_on,
        )
    for year in case.years:  # every rule file readable before anything is written
        try:
            load_premium_rules(year.fiscal_year, case.municipality)
        except PremiumRuleError as error:
            raise CaseError(f"case {case_id}: FY{year.fiscal_year}: {error}") from None
    for household in sorted({y.household_id for y in case.years}):
        # 過誤納金 settled on a later day are not in the ledgers of ``decided_on``: settling
        # as of it would refund them again (decide_refunds refuses; say it before any write).
        # Nor does it hold a 不納欠損 decided on a later day (decide_refunds refuses too).
        for latest_of, what in (
            (settled_until, "the 過誤納金 of household {} were settled on {}"),
            (written_off_until, "a 不納欠損 of household {} was decided on {}"),
        ):
            latest = latest_of(engine, case.municipality, household)
            if latest is not None and latest > decided_on:
                raise CaseError(
                    f"case {case_id}: {what.format(household, latest)}: a 減額賦課決定 on "
                    f"{decided_on}, before it, would settle the 過誤納金 again (decide on "
                    f"{latest} or later)"
                )
    with reserve_case(case, engine, "reduction", actor) as reservation:
        audit("boundary_reduction", actor, [case.person_id], {"case_id": case_id})
        detail = _reduce(engine, case, reservation, (loss, judgement), decided_on, exception,
                         in_force)  # fmt: skip
        return record_step(engine, case, reservation, "reduction", decided_on, actor, detail)


def _reduce(
    engine: sa.Engine,
    case: Case,
    reservation: Reservation,
    steps: tuple[Step, Step],
    decided_on: dt.date,
    exception: PeriodLimitException | None,
    in_force: dt.date,
) -> dict[str, Any]:
    """③'s work once the case is reserved: per year the 減額賦課 (or why not), then the
    過誤納金 settled; returns the step's detail."""
    case_id = case.case_id
    loss, judgement = steps
    no_fault = bool(judgement.detail["no_fault"])
    years: list[dict[str, Any]] = []
    for year in case.years:
        barred = year.barred(decided_on)
        entry: dict[str, Any] = {
            "fiscal_year": year.fiscal_year, "household_id": year.household_id,
            "months": list(year.months), "limit": year.limit.isoformat(), "barred": barred,
        }  # fmt: skip
        if barred and (not no_fault or decided_on < in_force):
            why = (
                f"被保険者の責めに帰すべき事由 ({judgement.detail['reason']}) のため"
                if not no_fault
                else f"{in_force} 施行前 (data/boundary/rules.yaml) のため"
            )
            entry.update(
                basis=LIMIT_RULE, reduction=0,
                reason=(f"{LIMIT_RULE}の期間制限 ({year.limit} 以降は賦課決定不可) を経過。"
                        f"{why}{EXCEPTION_RULE}は適用されない"),
            )  # fmt: skip
            years.append(entry)
            continue
        if barred and (dearer := _dearer(engine, case, year, decided_on)) is not None:
            # The household owes more without the member (a 軽減 lost with n): §110-2(2) lets
            # only a reducing decision pass the limit, so the year stays as charged.
            entry.update(
                basis=LIMIT_RULE, reduction=0,
                reason=(f"{LIMIT_RULE}の期間制限 ({year.limit} 以降は賦課決定不可) を経過。"
                        f"資格喪失に伴う更正は増額 ({dearer[0]:,}円 → {dearer[1]:,}円) となり、"
                        f"{EXCEPTION_RULE}は減額の賦課決定に限られるため、賦課決定しない"),
            )  # fmt: skip
            years.append(entry)
            continue
        run = reassess(
            engine, case.municipality, year.fiscal_year, decided_on,
            exception=exception if barred else None, household_id=year.household_id,
            fence=fence(reservation),
        )  # fmt: skip
        refused = [r.reason for r in run.refused if r.household_id == year.household_id]
        if refused:
            raise CaseError(f"case {case_id}: FY{year.fiscal_year}: {refused[0]}")
        change = next((c for c in run.changes if c.household_id == year.household_id), None)
        before = change.previous_total if change else year.charged
        if change is not None:
            after = change.total
        else:  # an earlier 更正 (at ①, or the municipality's own run) took the months off
            account = household_account(engine, case.municipality, year.household_id, decided_on)
            after = account.get(year.fiscal_year, (year.charged, 0))[0]
            at_loss = [r for r in loss.detail.get("reassessed", [])
                       if r["fiscal_year"] == year.fiscal_year and "after" in r]  # fmt: skip
            entry["reduced_on"] = loss.decided_on.isoformat() if at_loss else None
        # Without the member the household may owe more (a 軽減 lost with n): that 更正 is an
        # 増額賦課, not a reduction of this notice.
        increase = after > before
        entry.update(
            basis=EXCEPTION_RULE if barred else LIMIT_RULE, before=before, after=after,
            reduction=max(0, before - after),
            reason=(f"{EXCEPTION_RULE}により期間制限 ({year.limit}) 経過後の減額賦課"
                    if barred else
                    f"{LIMIT_RULE}の期間制限 ({year.limit}) 内の"
                    + ("更正は増額賦課 (資格喪失に伴う軽減判定の変更): 減額なし" if increase
                       else "減額賦課")),
        )  # fmt: skip
        entry.setdefault("reduced_on", decided_on.isoformat() if change else None)
        years.append(entry)
    refunds: list[dict[str, Any]] = []
    for household in sorted({y.household_id for y in case.years}):
        try:
            settled = decide_refunds(engine, case.municipality, decided_on,
                                     household_id=household, fence=fence(reservation))  # fmt: skip
        except RefundRefused as error:  # settled meanwhile by a run of a later day
            raise CaseError(f"case {case_id}: {error}") from None
        for s in settled:
            refunds.append(
                {"refund_id": s.refund_id, "fiscal_year": s.fiscal_year, "kind": s.kind,
                 "amount": s.amount, "household_id": s.household_id,
                 "last_claim_day": s.last_claim_day.isoformat() if s.last_claim_day else None}
            )  # fmt: skip
    return {
        "no_fault": no_fault, "years": years, "refunds": refunds,
        "reduction": sum(int(y["reduction"]) for y in years),
        "refund": sum(int(r["amount"]) for r in refunds if r["kind"] == "refund"),
        "last_claim_day": last_claim_day(decided_on).isoformat(),
    }  # fmt: skip


def _dearer(engine: sa.Engine, case: Case, year: CaseYear, on: dt.date) -> tuple[int, int] | None:
    """(調定 in force, the year's premium from the register today) when the second is higher:
    the 更正 the loss calls for would be an increase; None otherwise."""
    charged = household_account(engine, case.municipality, year.household_id, on)
    in_force = charged.get(year.fiscal_year, (0, 0))[0]
    try:
        fresh = explain_household(
            engine, case.municipality, year.fiscal_year, year.household_id
        ).total
    except LookupError:  # no member left in the year: the 更正 takes it to 0
        return None
    return (in_force, fresh) if fresh > in_force else None


def claim_refund(
    engine: sa.Engine, case_id: int, claimed_on: dt.date, *, actor: str, audit: CaseAudit
) -> Case:
    """The person claims the case's refunds on ``claimed_on``; each is paid that day. Refused
    as a whole (nothing paid) when the claim prescribed (§110(1): two years from the
    decision) or nothing is left to pay."""
    check_actor(actor)
    case = open_case(engine, case_id)
    reduction = case.current("reduction")
    if reduction is None:
        raise CaseError(f"case {case_id}: no 減額賦課決定 yet, so nothing to refund")
    ids = {int(r["refund_id"]) for r in reduction.detail["refunds"] if r["kind"] == "refund"}
    found = [s for s in settlements(engine, case.municipality) if s.refund_id in ids]
    open_ = [s for s in found if s.status(claimed_on) == "open"]
    lapsed = [s for s in found if s.status(claimed_on) == "lapsed"]
    if lapsed:
        raise CaseError(
            f"case {case_id}: the refund claim prescribed after {lapsed[0].last_claim_day} "
            f"({PRESCRIPTION_RULE}: 2 years from the decision of {lapsed[0].decided_on})"
        )
    if not open_:
        raise CaseError(f"case {case_id}: no refund is left to pay")
    if claimed_on < reduction.decided_on:
        raise CaseError(f"case {case_id}: claimed before the decision of {reduction.decided_on}")
    with reserve_case(case, engine, "refund_claim", actor) as reservation:
        audit("boundary_refund", actor, [case.person_id], {"case_id": case_id})
        paid = []
        for s in open_:
            try:
                paid.append(pay_refund(engine, s.refund_id, claimed_on, fence=fence(reservation)))
            except RefundRefused as error:  # pragma: no cover - checked above
                raise CaseError(f"case {case_id}: {error}") from None
        detail = {"refunds": [{"refund_id": s.refund_id, "amount": s.amount} for s in paid],
                  "amount": sum(s.amount for s in paid)}  # fmt: skip
        return record_step(engine, case, reservation, "refund_claim", claimed_on, actor, detail)


def close_case(
    engine: sa.Engine, case_id: int, decided_on: dt.date, reason: str, *, actor: str,
    audit: CaseAudit,
) -> Case:  # fmt: skip
    """Closes a case (e.g. the employee coverage was cancelled); no step follows."""
    check_actor(actor)
    check_text("reason", reason)
    case = open_case(engine, case_id)
    if not reason.strip():
        raise CaseError(f"case {case_id}: closing needs a reason")
    with reserve_case(case, engine, "close", actor) as reservation:
        audit("boundary_close", actor, [case.person_id], {"case_id": case_id})
        detail = {"reason": reason.strip()}
        return record_step(engine, case, reservation, "close", decided_on, actor, detail)


def step_json(case: Case) -> list[dict[str, Any]]:
    return [
        {"step_id": s.step_id, "step": s.step, "decided_on": s.decided_on.isoformat(),
         "recorded_by": s.recorded_by, "supersedes": s.supersedes, "detail": s.detail}
        for s in case.steps
    ]  # fmt: skip
