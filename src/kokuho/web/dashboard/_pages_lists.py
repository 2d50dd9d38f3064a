"""資格 and the person-level lists (氏名入りリスト): shown only to the staff of the insurer that
insures the persons; prefecture staff see the counts. The routes audit every view."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa

from kokuho.ids import FiscalYear
from kokuho.verify import tables as v
from kokuho.web.dashboard import _figures_register as fr
from kokuho.web.dashboard import _sources as src
from kokuho.web.dashboard._accounts import User
from kokuho.web.dashboard._audit import actor
from kokuho.web.dashboard._page import NotFound, Page, Pending, Refused, waiting
from kokuho.web.dashboard._pages import find_municipality, pick_year, result, year_missing
from kokuho.web.dashboard._site import Dashboard
from kokuho.web.dashboard._tables import dashboard_users
from kokuho.web.dashboard._tabular import Kind, table

LISTS: Final[dict[str, str]] = {
    "nephropathy": "糖尿病性腎症重症化予防 受診勧奨対象者",
    "overlaps": "資格重複 (他の保険者と重なる被保険者)",
    "eligibility-errors": "資格過誤 (返戻候補のレセプト)",
    "duplicates": "重複投与者",
    "multi-drug": "多剤投与者",
}


def eligibility(dashboard: Dashboard, user: User, asked: int | None) -> Page | Pending:
    year = pick_year(dashboard, asked)
    jobs = [dashboard.overlaps()] + ([dashboard.claims(year)] if year else [])
    if pending := waiting("資格", *jobs):
        return pending
    overlaps = result(jobs[0])
    claims = result(jobs[1]) if year else src.Missing(src.CLAIMS_HINT)
    page = Page(
        "eligibility.html",
        "資格",
        {"year": year, "years": dashboard.years(), "year_missing": year_missing(asked, year)},
    )
    rows = []
    overlap_counts: dict[str, Any] = (
        {} if isinstance(overlaps, src.Missing) else {r["insurer"]: r for r in overlaps.counts.rows}
    )
    for m in dashboard.municipalities():
        if not user.may_see_municipality(m.insurer_number):
            continue
        counts = overlap_counts.get(m.insurer_number, {})
        errors = (
            len(claims.errors.get(m.insurer_number, []))
            if isinstance(claims, src.ClaimsView)
            else None
        )
        rows.append(
            {
                "code": m.code,
                "name": m.name,
                "insurer": m.insurer_number,
                "overlaps": counts.get("overlaps"),
                "open": counts.get("open"),
                "errors": errors,
                "own": user.may_see_persons_of(m.insurer_number),
            }
        )
    page.add(
        table(
            "eligibility-counts",
            "資格重複と資格過誤の件数",
            [
                ("code", "団体コード"),
                ("name", "市町"),
                ("insurer", "保険者番号"),
                ("overlaps", "資格重複", "int"),
                ("open", "うち継続中", "int"),
                ("errors", "資格過誤 (返戻候補)", "int"),
            ],
            rows,
            note="県の職員には件数だけを表示します。氏名入りのリストはその市町村の職員だけが開けます。",
        )
    )
    page.context.update(
        rows=rows, claims_missing=claims if isinstance(claims, src.Missing) else None
    )
    return page


def _rows_for(
    dashboard: Dashboard, kind: str, insurer: str, year: int | None, figures: Any
) -> tuple[list[dict[str, Any]], list[tuple[str, str, Kind]]]:
    """Rows (with ``person_id``) and columns of one person-level list."""
    if kind == "nephropathy":
        listing = figures.get(year) if isinstance(figures, dict) else None
        people = fr.persons_by_key(dashboard.engine, insurer)
        rows = []
        for c in listing.candidates if listing else ():
            if c.person_key.split(":")[0] != insurer:
                continue
            pid, name, birth = people.get(c.person_key, (None, "", None))
            rows.append(
                {
                    "person_id": pid,
                    "insured": c.person_key.split(":", 1)[1].replace(":", "・"),
                    "name": name,
                    "birth": birth,
                    "reasons": " / ".join(r.text for r in c.reasons),
                    "action": c.action,
                    "unverified": "、".join(c.unverified),
                }
            )
        columns: list[tuple[str, str, Kind]] = [
            ("insured", "記号・番号・枝番", "text"),
            ("name", "氏名", "text"),
            ("birth", "生年月日", "date"),
            ("reasons", "該当理由", "text"),
            ("action", "対応", "text"),
            ("unverified", "未確認の条件", "text"),
        ]
        return rows, columns
    if kind == "overlaps":
        rows = [dict(r) for r in figures.rows if r["municipality"] == insurer]
        names = fr.person_names(dashboard.engine, [r["person_id"] for r in rows])
        for r in rows:
            r["name"], r["birth"] = names.get(r["person_id"], ("", None))
        columns = [
            ("insured", "記号・番号・枝番", "text"),
            ("name", "氏名", "text"),
            ("birth", "生年月日", "date"),
            ("other_insurer", "重複先の保険者番号", "text"),
            ("other_name", "重複先の保険者", "text"),
            ("overlap_from", "重複の始まり", "date"),
            ("overlap_until", "重複の終わり", "date"),
            ("days", "日数", "int"),
        ]
        return rows, columns
    assert isinstance(figures, src.ClaimsView)
    found = {
        "eligibility-errors": figures.errors,
        "duplicates": figures.duplicates,
        "multi-drug": figures.multi_drug,
    }[kind]
    rows = [dict(r) for r in found.get(insurer, [])]
    names = fr.person_names(dashboard.engine, [r["person_id"] for r in rows if r.get("person_id")])
    for r in rows:
        r.setdefault("name", names.get(r.get("person_id") or 0, ("", None))[0])
    return rows, src.list_columns(kind)


def person_list(
    dashboard: Dashboard, user: User, insurer: str, kind: str, asked: int | None
) -> Page | Pending | Refused | NotFound:
    place = find_municipality(dashboard, insurer)
    if place is None or kind not in LISTS:
        return NotFound("対象者リスト", "そのリストはありません")
    if not user.may_see_persons_of(insurer):
        return Refused(
            LISTS[kind],
            "氏名入りのリストは、その被保険者を保険する市町村の職員だけが閲覧できます。"
            "県の職員は件数 (市町村の詳細・資格) をご覧ください。",
            audit=(kind, insurer),
        )
    year = pick_year(dashboard, asked)
    if kind == "nephropathy":
        job = dashboard.programmes()
    elif kind == "overlaps":
        job = dashboard.overlaps()
    else:
        if year is None:
            return NotFound(LISTS[kind], src.CLAIMS_HINT)
        job = dashboard.claims(year)
    if pending := waiting(LISTS[kind], job):
        return pending
    figures = result(job)
    page = Page(
        "person_list.html",
        f"{place.name} {LISTS[kind]}",
        {
            "place": place,
            "kind": kind,
            "year": year,
            "years": dashboard.years(),
            "missing": None,
            "year_missing": year_missing(asked, year),
        },  # fmt: skip
    )
    if isinstance(figures, src.Missing):
        page.context["missing"] = figures
        page.persons = (kind, insurer, [])
        return page
    rows, columns = _rows_for(dashboard, kind, insurer, year, figures)
    label = f" ({FiscalYear(year).label})" if year and kind != "overlaps" else ""
    page.add(
        table(
            f"list-{kind}",
            f"{place.name} {LISTS[kind]}{label}",
            columns,
            rows,
            note="個人情報です。業務の目的以外に使わないでください。閲覧・ダウンロードは記録されます。",
            person_level=True,
        )
    )
    page.persons = (kind, insurer, [r.get("person_id") for r in rows])
    return page


#: Records on one page of アクセス記録.
AUDIT_PAGE: Final = 200


def audit_log(dashboard: Dashboard, user: User, before: int | None) -> Page:
    """アクセス記録: prefecture staff see the whole log, numbered by its sequence; municipal
    staff the records of their own municipality's dashboard users, numbered 1… within them
    (``before`` then counts in that numbering). A municipal page says nothing of the rest of
    the log: its count, the numbers and the paging link are all of their own records, since a
    sequence number would tell how many others' records lie between two of theirs."""
    a = v.audit_log.c
    with dashboard.engine.connect() as connection:
        scope: sa.ColumnElement[bool] = sa.true()
        if not user.is_prefecture:
            colleagues = connection.scalars(
                sa.select(dashboard_users.c.username).where(
                    dashboard_users.c.insurer_number == user.insurer_number
                )
            ).all()
            scope = a.actor.in_([actor(name) for name in colleagues])
        number = a.seq if user.is_prefecture else sa.func.row_number().over(order_by=a.seq)
        seen = (
            sa.select(
                number.label("number"),
                a.at,
                a.actor,
                a.institution_code,
                a.purpose,
                a.action,
                a.person_id,
                a.outcome,
            )
            .where(scope)
            .subquery()
        )
        # One more than a page: whether an older page exists among what the user may see.
        query = sa.select(seen).order_by(seen.c.number.desc()).limit(AUDIT_PAGE + 1)
        if before:
            query = query.where(seen.c.number < before)
        rows = [dict(row._mapping) for row in connection.execute(query)]
        counted = sa.select(sa.func.count()).select_from(v.audit_log).where(scope)
        total = connection.scalar(counted) or 0
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    for row in rows:
        row["at"] = row["at"].strftime("%Y-%m-%d %H:%M:%S") if row["at"] else ""
    page = Page(
        "audit.html",
        "アクセス記録",
        {"total": total, "chain": None, "older": rows[-1]["number"] if more else None},
    )
    page.add(
        table(
            "audit-log",
            f"アクセス記録 (新しい順、{AUDIT_PAGE}件ずつ)",
            [
                ("number", "番号", "int"),
                ("at", "日時 (UTC)"),
                ("actor", "利用者"),
                ("institution_code", "医療機関コード"),
                ("purpose", "目的"),
                ("action", "操作"),
                ("person_id", "個人ID", "int"),
                ("outcome", "結果"),
            ],
            rows,
        )
    )
    job = dashboard.cache.find(dashboard.cache.job_id("chain"))
    page.context["chain"] = job
    return page
