"""二重払い・資格適正化: the §110-2(2) double-payment cases (docs/boundary.md). Municipal staff
see their own municipality's cases by name, each case with its years and steps, and open its
notices; prefecture staff see the counts per municipality. Every person-level read goes
through the boundary room with the dashboard's audit sink (``CaseAuditSink``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import sqlalchemy as sa

from kokuho.boundary import (
    Case,
    CaseError,
    NoNotice,
    Step,
    UnknownCase,
    case_counts,
    case_detail,
    list_cases,
    reduction_notice,
    refund_notice,
)
from kokuho.boundary import tables as bt
from kokuho.ids import FiscalYear, wareki_label
from kokuho.registry import tables as r
from kokuho.web.dashboard import _figures_register as fr
from kokuho.web.dashboard._accounts import User
from kokuho.web.dashboard._audit import CaseAuditSink
from kokuho.web.dashboard._figures_register import Municipality
from kokuho.web.dashboard._page import NotFound, Page, Refused
from kokuho.web.dashboard._params import FIRST_DAY
from kokuho.web.dashboard._site import Dashboard
from kokuho.web.dashboard._tabular import table

TITLE: Final = "二重払い・資格適正化"
LISTING: Final = "boundary-cases"
#: How far a case got (docs/boundary.md, the workflow).
STATUS: Final = {
    "open": "未着手",
    "lost": "① 資格喪失済",
    "judged": "② 無過失等の判断済",
    "decided": "③ 減額賦課決定済",
    "closed": "終結 (誤って開始)",
}
STEP: Final = {
    "loss": "① 資格喪失",
    "judgement": "② 判断",
    "reduction": "③ 減額賦課決定・還付",
    "refund_claim": "還付請求",
    "close": "終結",
}
NOTICES: Final = {"reduction": "減額賦課決定通知書", "refund": "還付通知書"}
#: Why a notice cannot be made, in the staff's words, by the boundary room's NoNotice.why.
NO_NOTICE: Final = {
    "closed": "事案は終結しています",
    "undecided": "減額賦課決定がまだです (③ の後に作成できます)",
    "nothing_overpaid": "過誤納金がありません",
}
REFUSED: Final = (
    "氏名入りの事案は、その被保険者を保険する市町村の職員だけが閲覧できます。"
    "県の職員は市町村別の件数をご覧ください。"
)


def _months(months: tuple[str, ...] | list[str]) -> str:
    """2020年4月～2021年3月 (12か月), as the notices print them."""
    if not months:
        return "—"
    first, last = months[0].split("-"), months[-1].split("-")
    return (
        f"{int(first[0])}年{int(first[1])}月～{int(last[0])}年{int(last[1])}月（{len(months)}か月）"
    )


def _limit_status(case: Case, on: dt.date) -> str:
    barred = case.barred_years(on)
    if not case.years:
        return "調定なし"
    if not barred:
        return "全年度 期間内 (§110-2(1))"
    years = "・".join(f"{y}年度" for y in barred)
    return f"{years} 期間制限経過 (§110-2(2)の無過失に限り減額可)"


def _insured(engine: sa.Engine, coverage_ids: list[int]) -> dict[int, str]:
    c = r.coverages.c
    if not coverage_ids:
        return {}
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(c.coverage_id, c.symbol, c.number, c.branch).where(
                c.coverage_id.in_(coverage_ids)
            )
        )
        return {row.coverage_id: f"{row.symbol}・{row.number}・{row.branch}" for row in rows}


def _day_label(day: dt.date) -> str:
    """令和5年5月12日 (2023-05-12), as the pages show a day."""
    return f"{wareki_label(day)} ({day.isoformat()})"


def _as_of(on: dt.date | None) -> tuple[dt.date, dict[str, Any], str]:
    """The day the pages show (基準日: ``on``, else today), the template's picker and label,
    and the caption suffix of a day asked for (so that a download says which day it is)."""
    today = dt.date.today()
    day = on or today
    picker = {"on": day, "first": FIRST_DAY, "last": today,
              "query": f"?on={on.isoformat()}" if on else ""}  # fmt: skip
    return day, picker, f" ({wareki_label(on)}現在)" if on else ""


def _own_place(dashboard: Dashboard, user: User) -> Municipality | None:
    if user.is_prefecture:
        return None
    places = dashboard.municipalities()
    return next((m for m in places if m.insurer_number == user.insurer_number), None)


def overview(
    dashboard: Dashboard, user: User, outcome: str = "shown", on: dt.date | None = None
) -> Page:
    """The counts per municipality the user may see, and a municipal user's own cases, as
    they stood on ``on`` (基準日; today when None): the cases opened by then, the steps
    decided by then, the limit judged on that day."""
    day, picker, suffix = _as_of(on)
    counts = {c.municipality: c for c in case_counts(dashboard.engine, day)}
    rows = []
    for m in dashboard.municipalities():
        if not user.may_see_municipality(m.insurer_number):
            continue
        c = counts.get(m.code)
        status = c.by_status if c else {}
        rows.append(
            {
                "code": m.code,
                "name": m.name,
                "cases": c.cases if c else 0,
                "months": c.months if c else 0,
                "premium": c.premium_of_months if c else 0,
                "barred": c.with_barred_years if c else 0,
                **{key: status.get(key, 0) for key in STATUS},
            }
        )
    page = Page("boundary.html", TITLE, {"day": picker, "own": None})
    page.add(
        table(
            "boundary-counts",
            f"市町村別 二重払い (国保と被用者保険の重複) 事案の件数{suffix}",
            [
                ("code", "団体コード"),
                ("name", "市町"),
                ("cases", "事案", "int"),
                ("months", "重複月数", "int"),
                ("premium", "重複月の保険料", "yen"),
                ("barred", "期間制限経過の年度を含む事案", "int"),
                *((key, label, "int") for key, label in STATUS.items()),
            ],
            rows,
            note="件数だけを表示します (個人は特定されません)。基準日までに開始した事案を、"
            "基準日までの手続で数えます。期間制限は基準日に判断した場合。",
        )
    )
    place = _own_place(dashboard, user)
    if place is not None:
        audit = CaseAuditSink(dashboard.audit, user.username, outcome, hold=True)
        cases = list_cases(
            dashboard.engine, place.code, actor=user.username, audit=audit, as_of=day
        )
        page.deferred.append(audit.flush)
        page.add(_case_table(dashboard, place, cases, day, picker["query"], suffix))
        page.context["own"] = place
    return page


def _case_table(
    dashboard: Dashboard,
    place: Municipality,
    cases: list[Case],
    day: dt.date,
    query: str,
    suffix: str,
) -> Any:
    engine = dashboard.engine
    names = fr.person_names(engine, [c.person_id for c in cases])
    insured = _insured(engine, [c.kokuho_coverage_id for c in cases])
    insurers = fr.insurer_names(engine)
    rows = []
    for case in cases:
        reduction = case.current("reduction")
        months = tuple(m for y in case.years for m in y.months)
        rows.append(
            {
                "case_id": case.case_id,
                "name": names.get(case.person_id, ("", None))[0],
                "link": f"/boundary/cases/{case.case_id}{query}",
                "insured": insured.get(case.kokuho_coverage_id, ""),
                "employee": insurers.get(case.employee_insurer, case.employee_insurer),
                "acquired": case.employee_acquired_on,
                "decided": case.employee_decided_on,
                "months": case.months,
                "period": _months(months),
                "charged": sum(y.charged for y in case.years),
                "paid": sum(y.paid for y in case.years),
                "premium": case.premium_of_months,
                "limit": _limit_status(case, day),
                "status": STATUS[case.status],
                "reduction": reduction.detail["reduction"] if reduction else None,
                "refund": reduction.detail["refund"] if reduction else None,
            }
        )
    return table(
        LISTING,
        f"{place.name} 二重払い事案の一覧{suffix}",
        [
            ("case_id", "事案番号", "int"),
            ("name", "氏名"),
            ("insured", "記号・番号・枝番"),
            ("employee", "被用者保険の保険者"),
            ("acquired", "資格取得日", "date"),
            ("decided", "資格決定日", "date"),
            ("months", "重複月数", "int"),
            ("period", "重複月"),
            ("charged", "調定額 (世帯・年度計)", "yen"),
            ("paid", "収納額 (世帯・年度計)", "yen"),
            ("premium", "重複月の保険料", "yen"),
            ("limit", "賦課決定の期間制限"),
            ("status", "進捗"),
            ("reduction", "減額", "yen"),
            ("refund", "還付", "yen"),
        ],
        rows,
        note="個人情報です。業務の目的以外に使わないでください。閲覧・ダウンロードは記録されます。",
        person_level=True,
    )


def case_municipality(dashboard: Dashboard, case_id: int) -> Municipality | None:
    """The municipality a case belongs to (read without any person), for the access check."""
    c = bt.boundary_cases.c
    with dashboard.engine.connect() as connection:
        code = connection.scalar(sa.select(c.municipality).where(c.case_id == case_id))
    return next((m for m in dashboard.municipalities() if m.code == code), None)


def _allowed(dashboard: Dashboard, user: User, case_id: int) -> Municipality | Refused | NotFound:
    place = case_municipality(dashboard, case_id)
    missing = f"事案 {case_id} はありません"
    if place is None:
        return NotFound(TITLE, missing)
    if not user.may_see_persons_of(place.insurer_number):
        audit = (LISTING, place.insurer_number)
        if user.is_prefecture:  # who sees every municipality's counts of cases
            return Refused(TITLE, REFUSED, audit=audit)
        # Case numbers run across the prefecture: another municipality's staff are answered
        # as for a number no case has (the refusal is still audited).
        return Refused(TITLE, missing, audit=audit, status=404)
    return place


def case_page(
    dashboard: Dashboard,
    user: User,
    case_id: int,
    outcome: str = "shown",
    on: dt.date | None = None,
) -> Page | Refused | NotFound:
    """One case as it stood on ``on`` (基準日; today when None): the person, the years with
    their limit, the steps decided by then; links to the notices once decided."""
    place = _allowed(dashboard, user, case_id)
    if not isinstance(place, Municipality):
        return place
    engine = dashboard.engine
    day, picker, suffix = _as_of(on)
    audit = CaseAuditSink(dashboard.audit, user.username, outcome, hold=True)
    try:
        case = case_detail(engine, case_id, actor=user.username, audit=audit, as_of=day)
    except UnknownCase:  # opened after the day (nobody's case was read)
        return NotFound(TITLE, f"事案 {case_id} は{_day_label(day)} にはまだありません")
    name, birth = fr.person_names(engine, [case.person_id]).get(case.person_id, ("", None))
    insurers = fr.insurer_names(engine)
    page = Page(
        "boundary_case.html",
        f"二重払い事案 {case.case_id}",
        {
            "place": place,
            "case": case,
            "person_name": name,
            "birth": birth,
            "insured": _insured(engine, [case.kokuho_coverage_id]).get(case.kokuho_coverage_id),
            "employee": insurers.get(case.employee_insurer, case.employee_insurer),
            "progress": STATUS[case.status],
            "limit": _limit_status(case, day),
            "notices": NOTICES if case.status == "decided" else {},
            "day": picker,
        },
    )
    page.deferred.append(audit.flush)
    page.add(
        table(
            "case-years",
            f"事案 {case.case_id} 年度別の重複と保険料{suffix}",
            [
                ("year", "年度"),
                ("household", "世帯番号"),
                ("period", "重複月"),
                ("charged", "調定額 (世帯)", "yen"),
                ("paid", "収納額 (世帯)", "yen"),
                ("premium", "重複月の保険料", "yen"),
                ("limit", "賦課決定ができなくなる日", "date"),
                ("state", "基準日の期間制限"),
            ],
            [
                {
                    "year": f"{FiscalYear(y.fiscal_year).label} ({y.fiscal_year}年度)",
                    "household": y.household_id,
                    "period": _months(y.months),
                    "charged": y.charged,
                    "paid": y.paid,
                    "premium": y.premium_of_months,
                    "limit": y.limit,
                    "state": "経過 (§110-2(2)のみ)" if y.barred(day) else "期間内 (§110-2(1))",
                }
                for y in case.years
            ],
            person_level=True,
        ),
        table(
            "case-steps",
            f"事案 {case.case_id} の手続 (記録は追記のみ){suffix}",
            [
                ("step_id", "番号", "int"),
                ("step", "手続"),
                ("decided_on", "決定日", "date"),
                ("recorded_by", "記録者"),
                ("supersedes", "差し替えた手続", "int"),
                ("detail", "内容"),
            ],
            [
                {
                    "step_id": s.step_id,
                    "step": STEP[s.step],
                    "decided_on": s.decided_on,
                    "recorded_by": s.recorded_by,
                    "supersedes": s.supersedes,
                    "detail": step_text(s),
                }
                for s in case.steps
            ],
            person_level=True,
        ),
    )
    reduction = case.current("reduction")
    if reduction is not None:
        page.add(
            table(
                "case-reduction",
                f"事案 {case.case_id} 減額賦課決定 (年度別){suffix}",
                [
                    ("year", "年度"),
                    ("basis", "根拠"),
                    ("before", "減額前", "yen"),
                    ("after", "減額後", "yen"),
                    ("reduction", "減額", "yen"),
                    ("reason", "理由"),
                ],
                [
                    {
                        "year": f"{y['fiscal_year']}年度",
                        "basis": y.get("basis"),
                        "before": y.get("before"),
                        "after": y.get("after"),
                        "reduction": y.get("reduction"),
                        "reason": y.get("reason"),
                    }
                    for y in reduction.detail["years"]
                ],
                person_level=True,
            )
        )
    return page


def step_text(step: Step) -> str:
    """One line of what a step recorded (Japanese, for the staff)."""
    d = step.detail
    if step.step == "loss":
        return f"喪失日 {d['lost_on']} (他保険加入)"
    if step.step == "judgement":
        if d["no_fault"]:
            ev = d["evidence"]
            return (
                f"被保険者の責めに帰することのできない事由: {ev['document']} "
                f"(資格取得日 {ev['acquired_on']}、資格決定日 {ev['decided_on']}、"
                f"{ev['decided_by']})"
            )
        return f"被保険者の責めに帰すべき事由: {d['reason']}"
    if step.step == "reduction":
        return (
            f"減額 {d['reduction']:,}円、還付 {d['refund']:,}円、"
            f"還付請求の期限 {wareki_label(dt.date.fromisoformat(d['last_claim_day']))}"
        )
    if step.step == "refund_claim":
        return "還付請求 (支払済)"
    return f"終結: {d.get('reason', '')}"


def notice(dashboard: Dashboard, user: User, case_id: int, kind: str) -> str | Refused | NotFound:
    """A case's printable notice (HTML, A4 print CSS), audited by the boundary room."""
    if kind not in NOTICES:
        return NotFound(TITLE, "その通知書はありません")
    place = _allowed(dashboard, user, case_id)
    if not isinstance(place, Municipality):
        return place
    audit = CaseAuditSink(dashboard.audit, user.username)
    make = reduction_notice if kind == "reduction" else refund_notice
    try:
        return make(dashboard.engine, case_id, actor=user.username, audit=audit)
    except UnknownCase:
        reason = "事案がありません"
    except NoNotice as refused:
        reason = NO_NOTICE.get(refused.why, "事案の状態によります")
    except CaseError:
        reason = "事案の状態によります"
    return NotFound(NOTICES[kind], f"{NOTICES[kind]}は作成できません: {reason}")
