"""The データ提供 page: prefecture staff see every provision and statutory request with its
state in Japanese, municipal staff are refused, every view is audited; on both databases."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kokuho.cli._provision import ServiceAudit
from kokuho.provision import apply, catalogue, provisions, review
from kokuho.registry import tables
from kokuho.store import connect
from kokuho.web import create_app
from tests.dashsite import MUNICIPAL, PREFECTURE, audit_rows, build_site, sign_in
from tests.provisioncases import KOKI, ON, TERM, application, applied, items


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    built = build_site(database_url, tmp_path)
    engine = connect(database_url)
    audit = ServiceAudit(engine)
    cat = catalogue()
    first = applied(engine, cat, audit)
    review(engine, cat, first, reviewer="委員 丙", decision="conditions", minutes="議事",
           conditions="市区町村別に公表しない", on=ON, term_until=TERM,
           approved=items(persons=("age_band",)), audit=audit)  # fmt: skip
    with engine.begin() as connection:
        connection.execute(
            sa.insert(tables.insurers).values(
                insurer_number=KOKI,
                name="香川県後期高齢者医療広域連合",
                kind="koki",
                prefecture="37",
            )
        )
    request = application("integrated_request", organisation="高松市",
                          requested=items(claims=("points",)), provider=KOKI)  # fmt: skip
    apply(engine, cat, request, on=ON, audit=audit)
    audit.close()
    engine.dispose()
    with TestClient(create_app(built.settings)) as client:
        yield client


def _rows(text: str, table_id: str) -> list[list[str]]:
    tree = lxml.html.fromstring(text)
    [table] = tree.xpath(f'//table[@data-table="{table_id}"]')
    return [
        [c.text_content().strip() for c in tr.xpath("./td")] for tr in table.xpath(".//tbody/tr")
    ]


def test_prefecture_staff_see_provisions_and_requests_with_their_states(
    site: TestClient, database_url: str
) -> None:
    assert site.get("/provisions", follow_redirects=False).status_code == 303  # sign in first
    assert sign_in(site, PREFECTURE).status_code == 303
    answer = site.get("/provisions")
    assert answer.status_code == 200
    [third] = _rows(answer.text, "provisions")
    [request] = _rows(answer.text, "requests")
    assert third[:4] == ["P000001", "第三者提供 (NDB・介護DB 連結解析)", "条件付承認", "香川大学"]
    assert third[4:7] == ["2023-04 〜 2024-03", "2025-03-31", "0"]
    assert third[7] == "persons: age_band"
    assert request[:4] == [
        "P000002",
        "市町村 ← 後期高齢者医療広域連合 (一体的実施)",
        "申出受付",
        "高松市",
    ]
    # The insurer the request names as its provider (migration 0015), by name and number.
    assert request[4] == f"香川県後期高齢者医療広域連合 ({KOKI})"
    assert request[8] == "claims: points (申出)"
    headers = lxml.html.fromstring(answer.text).xpath('//table[@data-table="requests"]//th//text()')
    assert "提供元の保険者 (保険者番号)" in headers
    assert "データ提供" in answer.text and "未確認" in answer.text
    download = site.get("/provisions?download=requests&format=csv")
    assert download.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert row["状態"] == "申出受付"
    assert row["提供元の保険者 (保険者番号)"] == f"香川県後期高齢者医療広域連合 ({KOKI})"
    engine = connect(database_url)
    views = audit_rows(engine, action="provision_list")
    engine.dispose()
    assert [r.actor for r in views] == [f"dashboard:{PREFECTURE}"] * 2


def test_a_request_recorded_before_it_named_its_provider_says_so(
    site: TestClient, database_url: str
) -> None:
    """A statutory request recorded before migration 0015 names no provider: it is refused
    an extract and must be made again (docs/provision.md §6); the page says so."""
    engine = connect(database_url)
    with engine.begin() as connection:
        connection.execute(sa.update(provisions).values(provider_insurer=None))
    engine.dispose()
    assert sign_in(site, PREFECTURE).status_code == 303
    answer = site.get("/provisions")
    [request] = _rows(answer.text, "requests")
    assert request[4] == "未指定 (抽出できません。改めて求めてください)"
    # A 第三者提供 names no providing insurer (the 厚生労働大臣 provides): no such column.
    [third] = _rows(answer.text, "provisions")
    assert len(third) == 8
    headers = lxml.html.fromstring(answer.text).xpath(
        '//table[@data-table="provisions"]//th//text()'
    )
    assert "提供元の保険者 (保険者番号)" not in headers


def test_municipal_staff_are_refused(site: TestClient) -> None:
    assert sign_in(site, MUNICIPAL).status_code == 303
    answer = site.get("/provisions")
    assert answer.status_code == 403 and "県の職員のみ" in answer.text
    assert "P000001" not in answer.text
    download = site.get("/provisions?download=provisions&format=csv")
    assert download.status_code == 403 and "text/csv" not in download.headers["content-type"]
