"""Notices of a decided case as printable Japanese HTML (A4, print CSS, no script): the
減額賦課決定通知書 and the 還付通知書, and the clerk's CSV list of decided cases.

Each names its legal basis (国民健康保険法第110条の2第1項/第2項, 第110条第1項), the months and the
amounts. A notice is a person-level read: audited. A closed or unknown case, or one without
a 減額賦課決定, gets a clear error and nothing is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from html import escape
from typing import Any, Final

import sqlalchemy as sa

from kokuho.boundary._cases import read_cases
from kokuho.boundary._cases_model import Case, CaseAudit, NoNotice, Step, UnknownCase
from kokuho.boundary._cases_steps import EXCEPTION_RULE, LIMIT_RULE, PRESCRIPTION_RULE
from kokuho.ids import wareki_label
from kokuho.premiums import settlements
from kokuho.registry import tables as register
from kokuho.store import spreadsheet_text

_CSS: Final = """
@page { size: A4; margin: 20mm 18mm; }
body { font-family: "Noto Serif CJK JP", "Yu Mincho", serif; font-size: 10.5pt; color: #000; }
h1 { text-align: center; font-size: 16pt; letter-spacing: 0.3em; margin: 8mm 0; }
.meta { text-align: right; }
.to { margin: 6mm 0; font-size: 12pt; }
table { border-collapse: collapse; width: 100%; margin: 4mm 0; }
th, td { border: 1px solid #000; padding: 1.5mm 2mm; vertical-align: top; }
th { background: #eee; font-weight: normal; }
td.yen { text-align: right; white-space: nowrap; }
.basis { margin-top: 6mm; font-size: 9.5pt; }
@media print { .noprint { display: none; } th { background: none; } }
"""


@dataclass(frozen=True, slots=True)
class _Addressee:
    name: str
    address: str
    insured: str
    insurer_name: str


def _yen(amount: int) -> str:
    return f"{amount:,}円"


def _wareki(day: dt.date) -> str:
    """A date as notices print it, in the era of the day with 元年 for its first year
    (令和元年5月1日, 平成31年4月30日, 昭和64年1月7日): ``kokuho.ids.wareki_label``."""
    return wareki_label(day)


def _months(months: list[str]) -> str:
    if not months:
        return "—"
    first, last = months[0].split("-"), months[-1].split("-")
    return f"{first[0]}年{int(first[1])}月～{last[0]}年{int(last[1])}月（{len(months)}か月）"


def _addressee(engine: sa.Engine, case: Case) -> _Addressee:
    c, p, i = register.coverages.c, register.persons.c, register.insurers.c
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(
                p.name_kanji, p.address, c.insurer_number, c.symbol, c.number, c.branch, i.name
            )  # fmt: skip
            .join(register.persons, p.person_id == c.person_id)
            .join(register.insurers, i.insurer_number == c.insurer_number)
            .where(c.coverage_id == case.kokuho_coverage_id)
        ).one()
    insured = f"{row.insurer_number} {row.symbol}・{row.number}（{row.branch}）"
    return _Addressee(row.name_kanji, row.address, insured, row.name)


def _decided(engine: sa.Engine, case_id: int) -> tuple[Case, Step]:
    found = read_cases(engine, None, [case_id])
    if not found:
        raise UnknownCase(f"no double-payment case {case_id}")
    case = found[0]
    if case.status == "closed":
        raise NoNotice(f"case {case_id} is closed: no notice", "closed")
    reduction = case.current("reduction")
    if reduction is None:
        raise NoNotice(f"case {case_id}: no 減額賦課決定 yet, so no notice", "undecided")
    return case, reduction


def _page(title: str, to: _Addressee, day: dt.date, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
        f'<p class="meta">{escape(_wareki(day))}</p>\n'
        f'<p class="to">{escape(to.address)}<br>{escape(to.name)} 様</p>\n'
        f'<p class="meta">{escape(to.insurer_name)}</p>\n'
        f"<h1>{escape(title)}</h1>\n"
        f"<p>被保険者記号・番号: {escape(to.insured)}</p>\n{body}\n</body></html>\n"
    )


def reduction_notice(engine: sa.Engine, case_id: int, *, actor: str, audit: CaseAudit) -> str:
    """The 減額賦課決定通知書 of a decided case: per fiscal year the months, the premium before
    and after, the reduction and its basis; years the limit left unchanged with the reason."""
    case, step = _decided(engine, case_id)
    to = _addressee(engine, case)
    rows = []
    for year in step.detail["years"]:
        before = year.get("before")
        after = year.get("after")
        reduced_on = year.get("reduced_on")
        when = ""
        if reduced_on and reduced_on != step.decided_on.isoformat():
            when = f"（{_wareki(dt.date.fromisoformat(reduced_on))} 資格喪失に伴い更正済）"
        rows.append(
            "<tr>"
            f"<td>{year['fiscal_year']}年度</td><td>{escape(_months(year['months']))}</td>"
            f'<td class="yen">{_yen(before) if before is not None else "—"}</td>'
            f'<td class="yen">{_yen(after) if after is not None else "—"}</td>'
            f'<td class="yen">{_yen(int(year["reduction"]))}</td>'
            f"<td>{escape(str(year['basis']))}<br>{escape(str(year['reason']) + when)}</td></tr>"
        )
    basis = (
        f"{EXCEPTION_RULE}（被保険者の責めに帰することのできない事由による賦課決定の期間制限の特例）"
        if step.detail["no_fault"]
        else f"{LIMIT_RULE}（賦課決定の期間制限）"
    )
    body = (
        "<p>あなたの国民健康保険料について、被用者保険の資格取得"
        f"（資格取得日 {escape(_wareki(case.employee_acquired_on))}）に伴い国民健康保険の資格を"
        "喪失したため、次のとおり保険料を減額する賦課決定をしたので通知します。</p>\n"
        "<table><tr><th>年度</th><th>減額の対象月</th><th>変更前の保険料額</th>"
        "<th>変更後の保険料額</th><th>減額する額</th><th>根拠・理由</th></tr>\n"
        + "\n".join(rows)
        + f'\n<tr><th colspan="4">減額する額の合計</th>'
        f'<td class="yen">{_yen(int(step.detail["reduction"]))}</td><td></td></tr></table>\n'
        f'<p class="basis">根拠法令: {escape(basis)}。決定日: {escape(_wareki(step.decided_on))}。'
        f"納め過ぎとなった保険料は、別途「還付通知書」によりお知らせします。</p>"
    )
    audit("boundary_notice", actor, [case.person_id], {"case_id": case_id, "kind": "reduction"})
    return _page("国民健康保険料減額賦課決定通知書", to, step.decided_on, body)


def refund_notice(engine: sa.Engine, case_id: int, *, actor: str, audit: CaseAudit) -> str:
    """The 還付通知書: per fiscal year the 過誤納金, what was 充当 to arrears, the refund and
    the last day it can be claimed (§110(1): two years from the decision)."""
    case, step = _decided(engine, case_id)
    refunds = list(step.detail["refunds"])
    if not refunds:
        raise NoNotice(
            f"case {case_id}: nothing was overpaid, so no 還付通知書", "nothing_overpaid"
        )
    to = _addressee(engine, case)
    paid = {s.refund_id: s.paid_on for s in settlements(engine, case.municipality)}
    rows = []
    for r in sorted(refunds, key=lambda r: (r["fiscal_year"], r["refund_id"])):
        kind = "還付" if r["kind"] == "refund" else "充当"
        until = r["last_claim_day"]
        status = ""
        paid_on = paid.get(r["refund_id"])
        if r["kind"] == "refund" and paid_on is not None:
            status = f"（{_wareki(paid_on)} 支払済）"
        rows.append(
            f"<tr><td>{r['fiscal_year']}年度</td><td>{kind}{escape(status)}</td>"
            f'<td class="yen">{_yen(int(r["amount"]))}</td>'
            f"<td>{escape(_wareki(dt.date.fromisoformat(until))) if until else '—'}</td></tr>"
        )
    last = dt.date.fromisoformat(step.detail["last_claim_day"])
    body = (
        f"<p>{escape(_wareki(step.decided_on))}付けの減額賦課決定により、納め過ぎとなった"
        "国民健康保険料（過誤納金）を次のとおり還付（未納の保険料がある場合は充当）します。</p>\n"
        "<table><tr><th>年度</th><th>区分</th><th>金額</th><th>還付請求の期限</th></tr>\n"
        + "\n".join(rows)
        + f'\n<tr><th colspan="2">還付する額の合計</th>'
        f'<td class="yen">{_yen(int(step.detail["refund"]))}</td><td></td></tr></table>\n'
        f'<p class="basis">還付金を受ける権利は、{escape(PRESCRIPTION_RULE)}により、'
        f"{escape(_wareki(last))}を過ぎると時効により消滅します。</p>"
    )
    audit("boundary_notice", actor, [case.person_id], {"case_id": case_id, "kind": "refund"})
    return _page("国民健康保険料還付通知書", to, step.decided_on, body)


LIST_COLUMNS: Final = (
    "case_id", "氏名", "被保険者記号番号", "資格取得日", "資格決定日", "決定日", "判断",
    "重複月数", "減額", "還付", "還付請求期限", "状態",
)  # fmt: skip


def notice_rows(
    engine: sa.Engine, municipality: str, *, actor: str, audit: CaseAudit
) -> list[dict[str, Any]]:
    """One row per decided case of the municipality: what the notices say (audited)."""
    rows = []
    cases = [c for c in read_cases(engine, municipality) if c.current("reduction") is not None]
    for case in cases:
        step = case.current("reduction")
        assert step is not None
        to = _addressee(engine, case)
        rows.append(
            dict(zip(LIST_COLUMNS, (
                case.case_id, to.name, to.insured, case.employee_acquired_on.isoformat(),
                case.employee_decided_on.isoformat() if case.employee_decided_on else "",
                step.decided_on.isoformat(), "無過失" if step.detail["no_fault"] else "本人事由",
                case.months, step.detail["reduction"], step.detail["refund"],
                step.detail["last_claim_day"], case.status,
            ), strict=True))
        )  # fmt: skip
    audit("boundary_notice_list", actor, [c.person_id for c in cases],
          {"municipality": municipality})  # fmt: skip
    return rows


def notice_list_csv(engine: sa.Engine, municipality: str, *, actor: str, audit: CaseAudit) -> str:
    """The clerk's list as CSV (UTF-8; write it with a BOM for Excel)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, LIST_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in notice_rows(engine, municipality, actor=actor, audit=audit):
        writer.writerow({key: spreadsheet_text(value) for key, value in row.items()})
    return out.getvalue()
