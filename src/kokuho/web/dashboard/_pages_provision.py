"""データ提供・法定の求め: the provisions (第三者提供) and the statutory requests (都道府県 ←
市町村, 市町村 ← 広域連合) with their states, for prefecture staff only. The page shows no person;
each view is still recorded in the audit log (``provision_list``)."""

from __future__ import annotations

from typing import Any, Final

from kokuho.provision import STATE_TITLES, Provision, catalogue, list_provisions
from kokuho.verify import AuditRecord
from kokuho.web.dashboard import _figures_register as fr
from kokuho.web.dashboard._accounts import User
from kokuho.web.dashboard._audit import PURPOSE, actor
from kokuho.web.dashboard._page import Page, Refused
from kokuho.web.dashboard._site import Dashboard
from kokuho.web.dashboard._tabular import table

TITLE: Final = "データ提供・法定の求め"
_COLUMNS: Final = (
    ("provision_id", "番号"),
    ("basis", "根拠"),
    ("state", "状態"),
    ("organisation", "申出者・求めた機関"),
    ("period", "対象期間"),
    ("term", "利用期間 (終了日)"),
    ("extracts", "提供回数", "int"),
    ("tables", "提供項目 (承認済み)"),
)
#: A statutory request names the insurer that provides (提供元: the 市町村's 国保, the 広域連合;
#: migration 0015); a 第三者提供 names none (the 厚生労働大臣 provides), so only the requests
#: have the column.
PROVIDER: Final = ("provider", "提供元の保険者 (保険者番号)")
_REQUEST_COLUMNS: Final = (*_COLUMNS[:4], PROVIDER, *_COLUMNS[4:])
#: A request recorded before it had to name its provider: refused an extract, made again.
NO_PROVIDER: Final = "未指定 (抽出できません。改めて求めてください)"


def _provider(provision: Provision, names: dict[str, str]) -> str:
    if provision.provider is None:
        return NO_PROVIDER
    name = names.get(provision.provider)
    return f"{name} ({provision.provider})" if name else provision.provider


def _row(provision: Provision, titles: dict[str, str], names: dict[str, str]) -> dict[str, Any]:
    items = provision.approved if provision.approved is not None else provision.requested
    return {
        "provision_id": provision.provision_id,
        "basis": titles.get(provision.basis, provision.basis),
        "state": STATE_TITLES[provision.state],
        "organisation": provision.organisation,
        "provider": _provider(provision, names),
        "period": f"{provision.period_from:%Y-%m} 〜 {provision.period_to:%Y-%m}",
        "term": provision.term_until.isoformat() if provision.term_until else "—",
        "extracts": provision.extracts,
        "tables": " / ".join(f"{t}: {', '.join(i)}" for t, i in items.items())
        + ("" if provision.approved is not None else " (申出)"),
    }


def provisions_page(dashboard: Dashboard, user: User) -> Page | Refused:
    """The list of provisions and requests (prefecture staff only)."""
    if not user.is_prefecture:
        return Refused(TITLE, "データ提供・法定の求めの一覧は県の職員のみ表示できます")
    cat = catalogue()
    titles = {key: basis.title for key, basis in cat.bases.items()}
    found = list_provisions(dashboard.engine)
    dashboard.audit.write_many(
        [AuditRecord(actor=actor(user.username), purpose=PURPOSE, action="provision_list",
                     outcome="shown", detail={"provisions": len(found)})]
    )  # fmt: skip
    names = fr.insurer_names(dashboard.engine)
    third = [_row(p, titles, names) for p in found if p.basis == "third_party"]
    requests = [_row(p, titles, names) for p in found if p.basis != "third_party"]
    page = Page("provisions.html", TITLE, {
        "bases": [{"title": b.title, "law": b.law, "requester": b.requester,
                   "provider": b.provider, "confirmed": b.confirmed}
                  for b in cat.bases.values()],
        "states": list(STATE_TITLES.values()),
    })  # fmt: skip
    page.add(
        table("provisions", "第三者提供 (NDB・介護DB 連結解析)", _COLUMNS, third),
        table(
            "requests",
            "法定の求め (都道府県 ← 市町村、市町村 ← 後期高齢者医療広域連合)",
            _REQUEST_COLUMNS,
            requests,
        ),  # fmt: skip
    )
    return page
