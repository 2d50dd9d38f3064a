"""アクセス記録 (/audit) for municipal staff: the records of their own municipality's dashboard
users and nothing about the rest of the log, neither its size (counts, the chain check's
record count) nor where their records sit in it (numbers, the paging link). Prefecture staff
see the whole log. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kokuho.registry import load_insurers
from kokuho.store import connect
from kokuho.web import create_app
from kokuho.web.dashboard import add_user
from kokuho.web.dashboard._audit import record_view
from tests.dashsite import MUNICIPAL, PASSWORD, PREFECTURE, build_site, form_token, sign_in
from tests.feedfiles import KOKUHO, write_csv

MARUGAME = "370023"  # 丸亀市国民健康保険
OTHER = "mg-inputs"  # its staff
#: The other municipality's records: many, so that a figure of the whole log stands out.
THEIRS = 37
MINE = 3


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, sa.Engine]]:
    built = build_site(database_url, tmp_path)
    engine = connect(database_url)
    marugame = {"insurer_number": MARUGAME, "name": "丸亀市国民健康保険",
                "kind": "kokuho_municipal", "municipality_code": "372021"}  # fmt: skip
    load_insurers(engine, write_csv(tmp_path / "more.csv", list(marugame), [marugame]))
    add_user(engine, OTHER, PASSWORD, role="municipal", insurer_number=MARUGAME)
    with TestClient(create_app(built.settings)) as client:
        yield client, engine
    engine.dispose()


def _as(client: TestClient, username: str) -> TestClient:
    client.cookies.clear()
    assert sign_in(client, username).status_code == 303
    return client


def _write(client: TestClient, username: str, insurer: str, count: int) -> None:
    """``count`` list views by ``username``, through the app's own audit writer."""
    sink = client.app.state.service.audit  # type: ignore[attr-defined]
    record_view(sink, username, "overlaps", insurer, [None] * count)


def _log(client: TestClient, path: str = "/audit") -> tuple[str, list[dict[str, str]]]:
    """The page's visible text and its アクセス記録 rows ({column: text})."""
    answer = client.get(path)
    assert answer.status_code == 200, answer.text[:300]
    document = lxml.html.fromstring(answer.text)
    table = document.xpath('//table[@data-table="audit-log"]')[0]
    labels = [th.text_content().strip() for th in table.xpath("./thead/tr/th")]
    rows = [
        dict(zip(labels, (td.text_content().strip() for td in tr.xpath("./td")), strict=True))
        for tr in table.xpath("./tbody/tr")
        if len(tr.xpath("./td")) == len(labels)
    ]
    return answer.text, rows


def _figures(text: str) -> set[str]:
    """Every "N 件" the page says (the caption's 「200件ずつ」 is the page size, not a count)."""
    return set(re.findall(r"([\d,]+) 件", lxml.html.fromstring(text).text_content()))


def _total(engine: sa.Engine) -> int:
    from kokuho.verify import tables as v

    with engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(v.audit_log)) or 0


def _checked(client: TestClient) -> str:
    """The page once the chain check (改ざん検査) it started has finished."""
    token = form_token(client)
    client.post("/audit/verify", data={"csrf_token": token}, follow_redirects=False)
    deadline = time.monotonic() + 60
    while "検査結果" not in (text := client.get("/audit").text):
        assert time.monotonic() < deadline, text[:500]
        time.sleep(0.05)
    return text


def test_municipal_staff_learn_nothing_of_the_rest_of_the_log(
    site: tuple[TestClient, sa.Engine],
) -> None:
    client, engine = site
    _write(client, OTHER, MARUGAME, THEIRS)  # the older records: another municipality's
    _write(client, MUNICIPAL, KOKUHO, MINE)
    whole = _total(engine)
    assert whole >= THEIRS + MINE

    text, rows = _log(_as(client, MUNICIPAL))
    assert {row["利用者"] for row in rows} == {f"dashboard:{MUNICIPAL}"}
    assert len(rows) == MINE
    # Numbered within what they may see (1 = their oldest), not by place in the whole log.
    assert [row["番号"] for row in rows] == [str(n) for n in range(MINE, 0, -1)]
    assert _figures(text) == {str(MINE)}
    assert "さらに古い記録" not in text and "before=" not in text
    checked = _checked(client)
    assert "検査結果: 正常" in checked
    assert _figures(checked) == {str(MINE)}

    text, rows = _log(_as(client, PREFECTURE))
    assert {f"dashboard:{OTHER}", f"dashboard:{MUNICIPAL}"} <= {row["利用者"] for row in rows}
    assert str(whole) in _figures(text)
    assert f"{whole} 件すべて" in _checked(client)


def test_municipal_paging_goes_over_their_own_records(site: tuple[TestClient, sa.Engine]) -> None:
    client, _ = site
    _write(client, MUNICIPAL, KOKUHO, 150)
    _write(client, OTHER, MARUGAME, THEIRS)
    _write(client, MUNICIPAL, KOKUHO, 60)  # 210 of theirs, the others' in between

    text, rows = _log(_as(client, MUNICIPAL))
    assert len(rows) == 200 and rows[0]["番号"] == "210" and rows[-1]["番号"] == "11"
    assert _figures(text) == {"210"}
    older = lxml.html.fromstring(text).xpath('//a[text()="さらに古い記録"]/@href')
    assert older == ["/audit?before=11"]
    text, rows = _log(client, older[0])
    assert [row["番号"] for row in rows] == [str(n) for n in range(10, 0, -1)]
    assert "さらに古い記録" not in text

    text, rows = _log(_as(client, PREFECTURE))
    assert len(rows) == 200
    assert lxml.html.fromstring(text).xpath('//a[text()="さらに古い記録"]')
