"""県の概況 and 資格: figures read from the register and the eligibility service's tables."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from kokuho.checkups import person_key
from kokuho.registry import find_overlaps
from kokuho.registry import tables as r
from kokuho.verify import tables as v
from kokuho.web.dashboard._tabular import DataTable, table

KIND_LABELS: Final[dict[str, str]] = {
    "kokuho_municipal": "市町村国保",
    "kokuho_kumiai": "国民健康保険組合",
    "kyokai": "協会けんぽ",
    "kumiai": "健康保険組合",
    "kyosai": "共済組合",
    "koki": "後期高齢者医療広域連合",
}
#: How an online check was made (オンライン資格確認の方法), by audit action.
METHODS: Final[dict[str, str]] = {
    "check_number": "被保険者番号",
    "check_card_pin": "マイナ保険証 (暗証番号)",
    "check_card_face": "マイナ保険証 (顔認証)",
}


@dataclass(frozen=True)
class Municipality:
    insurer_number: str
    code: str
    name: str


def municipalities(engine: sa.Engine) -> list[Municipality]:
    """The 市町村国保 of the register, in 団体コード order."""
    i = r.insurers.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(i.insurer_number, i.municipality_code, i.name)
            .where(i.kind == "kokuho_municipal")
            .order_by(i.municipality_code, i.insurer_number)
        ).all()
    return [
        Municipality(row[0], row[1] or "", str(row[2]).removesuffix("国民健康保険")) for row in rows
    ]


def insurer_names(engine: sa.Engine) -> dict[str, str]:
    """保険者番号 → 保険者名 of every insurer of the register."""
    i = r.insurers.c
    with engine.connect() as connection:
        return {n: str(name) for n, name in connection.execute(sa.select(i.insurer_number, i.name))}


def _current(today: dt.date) -> list[sa.ColumnElement[bool]]:
    c = r.coverages.c
    return [c.acquired_on <= today, sa.or_(c.lost_on.is_(None), c.lost_on > today)]


@dataclass(frozen=True)
class Overview:
    today: dt.date
    by_kind: DataTable
    by_municipality: DataTable
    checks_daily: DataTable
    card_share: float | None
    checks_total: int
    institutions: DataTable
    onboarded: DataTable
    linkage: DataTable
    review_total: int


def overview(engine: sa.Engine, today: dt.date, report: Any) -> Overview:
    c, i = r.coverages.c, r.insurers.c
    report(0.1, "被保険者数を集計中")
    with engine.connect() as connection:
        members = connection.execute(
            sa.select(i.insurer_number, i.name, i.kind, i.municipality_code, sa.func.count())
            .select_from(r.insurers.join(r.coverages, c.insurer_number == i.insurer_number))
            .where(*_current(today))
            .group_by(i.insurer_number, i.name, i.kind, i.municipality_code)
        ).all()
        report(0.3, "個人番号の紐付けを集計中")
        linked: dict[str, int] = dict(
            connection.execute(
                sa.select(c.insurer_number, sa.func.count(sa.distinct(c.person_id)))
                .select_from(
                    r.coverages.join(
                        r.person_mynumbers, r.person_mynumbers.c.person_id == c.person_id
                    )
                )
                .where(*_current(today))
                .group_by(c.insurer_number)
            ).all()
        )
        q = r.mynumber_requests.c
        review: dict[str, int] = dict(
            connection.execute(
                sa.select(q.insurer_number, sa.func.count())
                .where(q.status == "review")
                .group_by(q.insurer_number)
            ).all()
        )
        report(0.5, "オンライン資格確認の件数を集計中")
        a = v.audit_log.c
        since = dt.datetime.combine(today - dt.timedelta(days=29), dt.time(), dt.UTC)
        day = sa.func.date(a.at)
        checks = connection.execute(
            sa.select(day.label("day"), a.action, sa.func.count())
            .where(a.action.in_(list(METHODS)), a.at >= since)
            .group_by(day, a.action)
        ).all()
        report(0.7, "医療機関等の導入状況を集計中")
        n = v.institutions.c
        institutions = connection.execute(sa.select(n.kind, n.status, n.online_since)).all()
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    municipal_rows = []
    link_rows = []
    for number, name, kind, code, count in members:
        kinds[kind][0] += 1
        kinds[kind][1] += count
        if kind == "kokuho_municipal":
            municipal_rows.append(
                {
                    "code": code,
                    "name": str(name).removesuffix("国民健康保険"),
                    "insurer": number,
                    "members": count,
                }
            )
        link_rows.append(
            {
                "insurer": number,
                "name": name,
                "kind": KIND_LABELS.get(kind, kind),
                "members": count,
                "linked": linked.get(number, 0),
                "rate": linked.get(number, 0) / count if count else None,
                "review": review.get(number, 0),
            }
        )
    by_kind = table(
        "members-by-kind",
        f"保険者の種別ごとの被保険者数 ({today.isoformat()} 現在)",
        [
            ("kind", "保険者の種別"),
            ("insurers", "保険者数", "int"),
            ("members", "被保険者数", "int"),
        ],
        [
            {"kind": KIND_LABELS.get(k, k), "insurers": n[0], "members": n[1]}
            for k, n in sorted(kinds.items(), key=lambda item: -item[1][1])
        ],
    )
    seen = {row["insurer"] for row in municipal_rows}
    municipal_rows += [
        {"code": m.code, "name": m.name, "insurer": m.insurer_number, "members": 0}
        for m in municipalities(engine)
        if m.insurer_number not in seen
    ]
    by_municipality = table(
        "members-by-municipality",
        "市町村国保の被保険者数",
        [
            ("code", "団体コード"),
            ("name", "市町"),
            ("insurer", "保険者番号"),
            ("members", "被保険者数", "int"),
        ],
        sorted(municipal_rows, key=lambda row: row["code"] or ""),
    )
    days = [today - dt.timedelta(days=k) for k in range(29, -1, -1)]
    counts: dict[tuple[str, str], int] = {}
    for day_value, action, count in checks:
        counts[(str(day_value)[:10], action)] = count
    daily_rows = []
    for d in days:
        row: dict[str, Any] = {"day": d}
        for action in METHODS:
            row[action] = counts.get((d.isoformat(), action), 0)
        row["total"] = sum(row[action] for action in METHODS)
        daily_rows.append(row)
    total = sum(row["total"] for row in daily_rows)
    cards = sum(row["check_card_pin"] + row["check_card_face"] for row in daily_rows)
    checks_daily = table(
        "checks-daily",
        "オンライン資格確認の件数 (直近30日、方法別)",
        [
            ("day", "日付", "date"),
            *((a, label, "int") for a, label in METHODS.items()),
            ("total", "合計", "int"),
        ],
        daily_rows,
    )
    inst_table, onboarded = _institutions(institutions, today)
    linkage = table(
        "mynumber-linkage",
        "保険者ごとの個人番号の紐付け率と確認待ち (要確認) 件数",
        [
            ("insurer", "保険者番号"),
            ("name", "保険者名"),
            ("kind", "種別"),
            ("members", "被保険者数", "int"),
            ("linked", "紐付け済み", "int"),
            ("rate", "紐付け率", "percent"),
            ("review", "確認待ち", "int"),
        ],
        sorted(link_rows, key=lambda row: row["insurer"]),
    )
    report(0.95, "表を作成中")
    return Overview(
        today,
        by_kind,
        by_municipality,
        checks_daily,
        cards / total if total else None,
        total,
        inst_table,
        onboarded,
        linkage,
        sum(review.values()),
    )


def _institutions(rows: Sequence[Any], today: dt.date) -> tuple[DataTable, DataTable]:
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    months: dict[str, int] = defaultdict(int)
    total = 0
    for kind, status, since in rows:
        if status == "closed":
            continue
        total += 1
        by_kind[kind][0] += 1
        if since is not None and since <= today:
            by_kind[kind][1] += 1
            months[since.strftime("%Y-%m")] += 1
    kinds = table(
        "institutions-by-kind",
        "医療機関・薬局のオンライン資格確認 導入状況",
        [
            ("kind", "種別"),
            ("institutions", "施設数", "int"),
            ("online", "導入済み", "int"),
            ("rate", "導入率", "percent"),
        ],
        [
            {"kind": k, "institutions": n[0], "online": n[1], "rate": n[1] / n[0] if n[0] else None}
            for k, n in sorted(by_kind.items())
        ],
    )
    running = 0
    cumulative = []
    for month in sorted(months):
        running += months[month]
        cumulative.append(
            {
                "month": month,
                "new": months[month],
                "online": running,
                "rate": running / total if total else None,
            }
        )
    onboarded = table(
        "institutions-onboarded",
        "導入済み施設数の推移 (月末累計)",
        [
            ("month", "年月"),
            ("new", "新規導入", "int"),
            ("online", "累計", "int"),
            ("rate", "導入率", "percent"),
        ],
        cumulative,
    )
    return kinds, onboarded


# -- 資格: overlaps --------------------------------------------------------------------------


@dataclass(frozen=True)
class Overlaps:
    counts: DataTable  # per 市町村国保: how many of its members overlap another insurer
    rows: list[dict[str, Any]]  # person level, filtered per viewer by the page


def overlaps(engine: sa.Engine, report: Any) -> Overlaps:
    report(0.2, "資格の重複を検索中")
    found = find_overlaps(engine)
    places = {m.insurer_number: m for m in municipalities(engine)}
    report(0.7, "市町村ごとに集計中")
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = []
    for item in found:
        for mine, other in ((item.first, item.second), (item.second, item.first)):
            insurer = mine.insured.insurer
            if insurer not in places:
                continue
            per[insurer][0] += 1
            per[insurer][1] += item.overlap_until is None
            rows.append(
                {
                    "municipality": insurer,
                    "person_id": item.person_id,
                    "insured": "・".join(
                        (mine.insured.symbol, mine.insured.number, mine.insured.branch)
                    ),
                    "other_insurer": other.insured.insurer,
                    "other_name": other.insurer_name,
                    "acquired_on": mine.acquired_on,
                    "other_acquired_on": other.acquired_on,
                    "overlap_from": item.overlap_from,
                    "overlap_until": item.overlap_until,
                    "days": item.days,
                }
            )
    counts = table(
        "overlap-counts",
        "資格重複の件数 (市町村国保と他の保険者)",
        [
            ("code", "団体コード"),
            ("name", "市町"),
            ("overlaps", "重複件数", "int"),
            ("open", "うち継続中", "int"),
        ],
        [
            {
                "code": m.code,
                "name": m.name,
                "insurer": number,
                "overlaps": per[number][0],
                "open": per[number][1],
            }
            for number, m in places.items()
        ],
    )
    return Overlaps(counts, rows)


def person_names(engine: sa.Engine, person_ids: list[int]) -> dict[int, tuple[str, dt.date]]:
    """Names and birth dates for a person-level list (only for the insurer's own staff)."""
    p = r.persons.c
    found: dict[int, tuple[str, dt.date]] = {}
    with engine.connect() as connection:
        for start in range(0, len(person_ids), 500):
            chunk = person_ids[start : start + 500]
            for pid, name, birth in connection.execute(
                sa.select(p.person_id, p.name_kanji, p.birth_date).where(p.person_id.in_(chunk))
            ):
                found[pid] = (name, birth)
    return found


def persons_by_key(engine: sa.Engine, insurer: str) -> dict[str, tuple[int, str, dt.date]]:
    """person key (保険者番号:記号:番号:枝番) → (person id, name, birth date) of one insurer."""
    c, p = r.coverages.c, r.persons.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(c.symbol, c.number, c.branch, p.person_id, p.name_kanji, p.birth_date)
            .join(r.persons, p.person_id == c.person_id)
            .where(c.insurer_number == insurer)
        ).all()
    return {person_key(insurer, s, n, b): (pid, name, birth) for s, n, b, pid, name, birth in rows}
