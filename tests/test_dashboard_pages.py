"""The dashboard over a small synthetic prefecture: sign-in, access rules, audit records,
figures on the pages equal to the contexts' own, downloads."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html
import openpyxl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kokuho.checkups import Lake, checkup_rates, guidance_rates, load_targets
from kokuho.registry import tables as r
from kokuho.store import connect
from kokuho.verify import tables as v
from kokuho.verify import verify_chain
from kokuho.web import create_app
from kokuho.web.dashboard import MUNICIPAL_PASSWORD, PREFECTURE_PASSWORD, PREFECTURE_USER
from tests.browser.demo_home import settings_for, shared_demo_home

TAKAMATSU = "370015"  # 高松市国民健康保険 in the synthetic prefecture
MARUGAME = "370023"
YEAR = 2021  # the fiscal year whose eligibility snapshot the demo exports


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    return shared_demo_home(tmp_path_factory, worker_id)


#: This module signs in as its own municipal users (made with the demo home): the browser
#: tests sign in as the demo accounts over the same database at the same time, and the audit
#: records are told apart by user.
STAFF = {"takamatsu": "tk-pages", "marugame": "mg-pages"}


@pytest.fixture(scope="module")
def app_client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(home))) as client:
        yield client


@pytest.fixture
def engine(home: Path) -> Iterator[sa.Engine]:
    # kokuho's own engine: it attaches the audit file beside the register.
    engine = connect(f"sqlite:///{home / 'kokuho.db'}", migrate=False)
    yield engine
    engine.dispose()


def sign_in(client: TestClient, username: str, password: str) -> None:
    username = STAFF.get(username, username)
    client.cookies.clear()
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    answer = client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": password},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def page(client: TestClient, path: str, status: int = 200) -> lxml.html.HtmlElement:
    """The page once its figures are computed (the first request may show progress)."""
    # Generous: on a loaded CI machine the scoreboard alone can take tens of seconds.
    deadline = time.monotonic() + 240
    while True:
        answer = client.get(path)
        if "集計中です" not in answer.text or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert answer.status_code == status, answer.text[:500]
    return lxml.html.fromstring(answer.text)


def cells(document: lxml.html.HtmlElement, table_id: str) -> list[dict[str, str]]:
    """A table's rows as {column label: text shown}."""
    found = document.xpath(f'//table[@data-table="{table_id}"]')
    assert found, f"no table {table_id}"
    labels = [th.text_content().strip() for th in found[0].xpath("./thead/tr/th")]
    return [
        dict(zip(labels, (td.text_content().strip() for td in tr.xpath("./td")), strict=True))
        for tr in found[0].xpath("./tbody/tr")
        if len(tr.xpath("./td")) == len(labels)
    ]


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


# -- sign-in ---------------------------------------------------------------------------------


def test_pages_need_a_sign_in(app_client: TestClient) -> None:
    app_client.cookies.clear()
    answer = app_client.get("/compare?fy=2021", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/compare%3Ffy%3D2021"
    # A download leads back to its page after sign-in, not to the file.
    answer = app_client.get(
        "/compare?download=municipal-comparison&fy=2021&format=xlsx", follow_redirects=False
    )
    assert answer.headers["location"] == "/login?next=/compare%3Ffy%3D2021"
    assert app_client.get("/jobs/abc").status_code == 401


def test_sign_in_sets_a_strict_http_only_cookie(app_client: TestClient) -> None:
    app_client.cookies.clear()
    form = app_client.get("/login")
    assert "Content-Security-Policy" in form.headers
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    answer = app_client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": "pref",
              "password": PREFECTURE_PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == "/overview"  # never an open redirect
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "kokuho_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    # It lasts as the session does unused: 30 minutes (test_dashboard_session_cookie.py).
    assert re.search(r"Max-Age=17\d\d\b|Max-Age=1800\b", cookie), cookie
    assert "Secure" not in cookie  # plain http on loopback; see the https test


def test_over_https_the_cookie_is_secure_and_host_bound(home: Path) -> None:
    with TestClient(create_app(settings_for(home)), base_url="https://testserver") as client:
        form = client.get("/login")
        assert "__Host-kokuho_csrf=" in form.headers["set-cookie"]
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        answer = client.post(
            "/login",
            data={"csrf_token": token.group(1), "username": "pref",
                  "password": PREFECTURE_PASSWORD},
            follow_redirects=False,
        )  # fmt: skip
        cookie = next(c for c in answer.headers.get_list("set-cookie") if "kokuho_session" in c)
        assert cookie.startswith("__Host-kokuho_session=") and "Secure" in cookie
        assert client.get("/overview", follow_redirects=False).status_code == 200


def test_sign_in_without_the_csrf_token_is_refused(app_client: TestClient) -> None:
    app_client.cookies.clear()
    app_client.get("/login")
    answer = app_client.post(
        "/login", data={"username": "pref", "password": PREFECTURE_PASSWORD},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 400 and "kokuho_session" not in answer.headers.get(
        "set-cookie", ""
    )


def test_a_wrong_password_is_refused(app_client: TestClient) -> None:
    app_client.cookies.clear()
    form = app_client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    answer = app_client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": "kanonji", "password": "not it at all"},
        follow_redirects=False,
    )
    assert answer.status_code == 401 and "利用者名またはパスワードが違います" in answer.text


def test_sign_out_ends_the_session(app_client: TestClient) -> None:
    sign_in(app_client, "pref", PREFECTURE_PASSWORD)
    document = page(app_client, "/audit")
    csrf = document.xpath('//form[@action="/logout"]/input[@name="csrf_token"]/@value')[0]
    token = app_client.cookies.get("kokuho_session")
    app_client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    app_client.cookies.set("kokuho_session", token)  # replaying the old cookie does not work
    assert app_client.get("/audit", follow_redirects=False).status_code == 303


# -- figures ---------------------------------------------------------------------------------


def test_overview_shows_the_registers_counts(app_client: TestClient, engine: sa.Engine) -> None:
    sign_in(app_client, "pref", PREFECTURE_PASSWORD)
    today = dt.date.today()
    c = r.coverages.c
    with engine.connect() as connection:
        members = connection.scalar(
            sa.select(sa.func.count()).where(
                c.insurer_number == TAKAMATSU, c.acquired_on <= today,
                sa.or_(c.lost_on.is_(None), c.lost_on > today),
            )
        )  # fmt: skip
        online = connection.scalar(
            sa.select(sa.func.count()).where(
                v.institutions.c.online_since <= today, v.institutions.c.status != "closed"
            )
        )
    document = page(app_client, "/overview")
    rows = {row["市町"]: row for row in cells(document, "members-by-municipality")}
    assert rows["高松市"]["被保険者数"] == f"{members:,}"
    assert len(rows) == 17
    onboarded = cells(document, "institutions-onboarded")
    assert onboarded[-1]["累計"] == f"{online:,}"
    assert document.xpath("//svg[@role='img']/title")  # charts carry a text alternative
    assert "令和" in document.xpath("string(//p[@class='asof'])")


def test_comparison_shows_the_rates_and_targets_of_the_checkups_room(
    app_client: TestClient, home: Path
) -> None:
    sign_in(app_client, "pref", PREFECTURE_PASSWORD)
    lake = Lake(home / "lake")
    expected = {
        row["municipality"]: row
        for row in checkup_rates(lake, YEAR, ("municipality",)).to_pyarrow().to_pylist()
    }
    guidance = {
        row["municipality"]: row
        for row in guidance_rates(lake, YEAR, ("municipality",)).to_pyarrow().to_pylist()
    }
    document = page(app_client, f"/compare?fy={YEAR}")
    shown = {row["団体コード"]: row for row in cells(document, "municipal-comparison")}
    assert len(shown) == 17
    for code, row in expected.items():
        assert shown[code]["特定健診 実施率"] == percent(row["rate"])
        assert shown[code]["特定健診 対象者数"] == f"{row['eligible']:,}"
    for code, row in guidance.items():
        assert shown[code]["特定保健指導 実施率"] == (
            "—" if row["rate"] is None else percent(row["rate"])
        )
    targets = load_targets()
    municipal = targets.find(YEAR, "kokuho_municipal", "checkup")
    national = targets.find(YEAR, "national", "checkup")
    assert municipal is not None and national is not None
    labels = document.xpath("//svg//line[contains(@class,'target')]/title/text()")
    assert f"市町村国保の目標 {municipal.rate:.0%}" in labels
    assert f"全国目標 {national.rate:.0%}" in labels
    assert f"全国目標 {targets.find(YEAR, 'national', 'guidance').rate:.0%}" in labels  # type: ignore[union-attr]


def test_a_year_before_its_reporting_cutoff_is_marked_incomplete(app_client: TestClient) -> None:
    # The synthetic data end on 2023-03-31: FY2021's 実績評価 cutoff (2022-10-31) has passed,
    # FY2022's (2023-10-31) has not, so its guidance rate is still 集計途中.
    sign_in(app_client, "pref", PREFECTURE_PASSWORD)
    kpis = " ".join(page(app_client, "/compare?fy=2021").xpath("//section[@class='kpis']//text()"))
    assert "特定保健指導 実施率" in kpis and "集計途中" not in kpis
    kpis = " ".join(page(app_client, "/compare?fy=2022").xpath("//section[@class='kpis']//text()"))
    assert "報告期限前 (集計途中)" in kpis


def test_municipality_detail_shows_rates_by_sex_and_band(
    app_client: TestClient, home: Path
) -> None:
    sign_in(app_client, "takamatsu", MUNICIPAL_PASSWORD)
    rows = [
        row
        for row in checkup_rates(Lake(home / "lake"), YEAR, ("municipality", "sex", "band"))
        .to_pyarrow()
        .to_pylist()
        if row["municipality"] == "372013"
    ]
    document = page(app_client, f"/municipalities/{TAKAMATSU}?fy={YEAR}")
    shown = {(row["性別"], row["年齢階級"]): row for row in cells(document, "rates-by-sex-age")}
    assert len(shown) == len(rows) > 0
    for row in rows:
        cell = shown[({1: "男性", 2: "女性"}[row["sex"]], f"{row['band']}歳")]
        assert cell["特定健診 実施率"] == percent(row["rate"])
    lists = {row["リスト"]: row["人数・件数"] for row in cells(document, "person-lists")}
    assert lists["資格重複 (他の保険者と重なる被保険者)"] == "2"
    assert document.xpath("//a[contains(@href,'/lists/overlaps')]")  # its own staff may open it


# -- access rules and the audit log ------------------------------------------------------------


def _audit_tail(
    engine: sa.Engine, after: int, actor: str, outcome: str = ""
) -> list[sa.Row[tuple[str, int | None, str, str]]]:
    """Records after ``after`` by ``actor`` whose outcome starts with ``outcome`` (tests of this
    module may run at the same time on other workers, as the same user)."""
    a = v.audit_log.c
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(a.actor, a.person_id, a.outcome, a.detail)
                .where(a.seq > after, a.actor == actor, a.outcome.startswith(outcome))
                .order_by(a.seq)
            )
        )


def _head(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return (
            connection.scalar(sa.select(sa.func.coalesce(sa.func.max(v.audit_log.c.seq), 0))) or 0
        )


def test_municipal_staff_see_their_own_person_lists_and_each_view_is_audited(
    app_client: TestClient, engine: sa.Engine
) -> None:
    sign_in(app_client, "takamatsu", MUNICIPAL_PASSWORD)
    before = _head(engine)
    document = page(app_client, f"/municipalities/{TAKAMATSU}/lists/overlaps")
    rows = cells(document, "list-overlaps")
    assert len(rows) == 2 and all(row["氏名"] for row in rows)
    records = _audit_tail(engine, before, "dashboard:tk-pages", "shown")
    assert len(records) == 2
    assert all(row.person_id is not None and '"overlaps"' in row.detail for row in records)
    assert verify_chain(engine).ok


def test_another_municipalitys_person_list_is_forbidden_and_the_refusal_audited(
    app_client: TestClient, engine: sa.Engine
) -> None:
    sign_in(app_client, "takamatsu", MUNICIPAL_PASSWORD)
    before = _head(engine)
    answer = app_client.get(f"/municipalities/{MARUGAME}/lists/overlaps")
    assert answer.status_code == 403 and 'data-table="list-overlaps"' not in answer.text
    assert "その被保険者を保険する市町村の職員だけ" in answer.text
    records = _audit_tail(engine, before, "dashboard:tk-pages", "refused")
    assert [(row.outcome, row.person_id) for row in records] == [("refused:other_insurer", None)]
    assert app_client.get(f"/municipalities/{MARUGAME}").status_code == 403
    download = app_client.get(
        f"/municipalities/{MARUGAME}/lists/overlaps?download=list-overlaps&format=csv"
    )
    assert download.status_code == 403


def test_prefecture_staff_see_counts_but_not_names(app_client: TestClient) -> None:
    sign_in(app_client, "pref", PREFECTURE_PASSWORD)
    document = page(app_client, f"/municipalities/{TAKAMATSU}")
    assert not document.xpath("//a[contains(@href,'/lists/')]")
    assert app_client.get(f"/municipalities/{TAKAMATSU}/lists/overlaps").status_code == 403
    counts = {
        row["市町"]: row for row in cells(page(app_client, "/eligibility"), "eligibility-counts")
    }
    assert counts["高松市"]["資格重複"] == "2" and len(counts) == 17


def test_municipal_staff_see_only_their_own_counts(app_client: TestClient) -> None:
    sign_in(app_client, "takamatsu", MUNICIPAL_PASSWORD)
    counts = cells(page(app_client, "/eligibility"), "eligibility-counts")
    assert [row["市町"] for row in counts] == ["高松市"]


# -- downloads -------------------------------------------------------------------------------


def test_csv_and_excel_downloads_hold_the_table(app_client: TestClient, home: Path) -> None:
    sign_in(app_client, "pref", PREFECTURE_PASSWORD)
    expected = {
        row["municipality"]: row
        for row in checkup_rates(Lake(home / "lake"), YEAR, ("municipality",))
        .to_pyarrow()
        .to_pylist()
    }
    base = f"/compare?fy={YEAR}&download=municipal-comparison"
    answer = app_client.get(f"{base}&format=csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    text = answer.content.decode("utf-8-sig")
    rows = {row["団体コード"]: row for row in csv.DictReader(io.StringIO(text))}
    assert len(rows) == 17
    for code, row in expected.items():
        assert float(rows[code]["特定健診 実施率 (%)"]) == pytest.approx(
            row["rate"] * 100, abs=1e-3
        )
        assert int(rows[code]["受診者数"]) == row["examined"]
    workbook = app_client.get(f"{base}&format=xlsx")
    assert workbook.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[2]]
    data = {
        row[header.index("団体コード")]: row for row in sheet.iter_rows(min_row=3, values_only=True)
    }
    assert len(data) == 17
    for code, row in expected.items():
        assert data[code][header.index("特定健診 実施率")] == pytest.approx(row["rate"])
    takamatsu = next(c for c in sheet.iter_rows(min_row=3) if c[0].value == "372013")
    assert takamatsu[header.index("特定健診 実施率")].number_format == "0.0%"


def test_downloading_a_person_list_is_audited(app_client: TestClient, engine: sa.Engine) -> None:
    sign_in(app_client, "takamatsu", MUNICIPAL_PASSWORD)
    before = _head(engine)
    answer = app_client.get(
        f"/municipalities/{TAKAMATSU}/lists/overlaps?download=list-overlaps&format=csv"
    )
    assert answer.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))) == 2
    records = _audit_tail(engine, before, "dashboard:tk-pages", "downloaded")
    assert [row.outcome for row in records] == ["downloaded:csv", "downloaded:csv"]


def test_the_audit_page_checks_the_chain(app_client: TestClient) -> None:
    sign_in(app_client, "pref", PREFECTURE_PASSWORD)
    document = page(app_client, "/audit")
    csrf = document.xpath('//form[@action="/audit/verify"]/input[@name="csrf_token"]/@value')[0]
    refused = app_client.post(
        "/audit/verify", data={"csrf_token": "forged"}, follow_redirects=False
    )
    assert refused.headers["location"].startswith("/login")
    app_client.post("/audit/verify", data={"csrf_token": csrf}, follow_redirects=False)
    for _ in range(200):
        text = app_client.get("/audit").text
        if "検査結果" in text:
            break
        time.sleep(0.05)
    assert "検査結果: 正常" in text


# -- 保険者努力支援制度 (kokuho.incentives) -----------------------------------------------------


@pytest.fixture(scope="module")
def scoreboard(home: Path) -> Any:
    from kokuho.incentives import prefecture_scoreboard
    from kokuho.store import connect

    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    try:
        return prefecture_scoreboard(engine, home / "lake", YEAR, home / "demo" / "incentives")
    finally:
        engine.dispose()


def yen(value: float) -> str:
    return f"{round(value):,}円"


def test_grants_show_the_scoreboards_points_and_yen(
    app_client: TestClient, scoreboard: Any
) -> None:
    sign_in(app_client, "pref", PREFECTURE_PASSWORD)
    document = page(app_client, f"/grants?fy={YEAR}")
    shown = {row["保険者番号"]: row for row in cells(document, "allocation")}
    assert len(shown) == len(scoreboard.municipalities) == 17
    for unit in scoreboard.municipalities:
        assert shown[unit.code]["得点"] == f"{unit.points:,.1f}"
        assert shown[unit.code]["交付額"] == yen(unit.grant_yen)
    # The chart's bars read as the table's 交付額, unit (円) and all.
    values = document.xpath(
        "//svg[@class='chart']//text[@class='value' or @class='value highlight']"
    )
    assert [v.text for v in values] == [row["交付額"] for row in cells(document, "allocation")]
    adjustment = cells(document, "adjustment")
    assert adjustment[0]["都道府県"] == scoreboard.adjustment.home.name
    assert adjustment[0]["合計"] == yen(scoreboard.adjustment.home.total_yen)
    assert document.xpath("//form[@class='what-if']//input[@type='range']")


def test_what_if_answers_as_the_incentives_room(app_client: TestClient, scoreboard: Any) -> None:
    from kokuho.incentives import what_if

    sign_in(app_client, "takamatsu", MUNICIPAL_PASSWORD)
    answer = app_client.get(
        f"/grants/what-if?fy={YEAR}&insurer={TAKAMATSU}&lever=checkup_rate&value=0.6"
    )
    assert answer.status_code == 200, answer.text
    part = next(p.key for p in scoreboard.parts if p.unit == "municipality")
    expected = what_if(scoreboard, [f"{TAKAMATSU}:checkup_rate=0.6"]).row(part, TAKAMATSU)
    shown = answer.json()
    assert (shown["points_before"], shown["points_after"]) == (
        expected.points_before, expected.points_after,
    )  # fmt: skip
    assert (shown["yen_before"], shown["yen_after"]) == (expected.yen_before, expected.yen_after)
    assert shown["points_after"] > shown["points_before"]  # 60 % reaches the target
    other = app_client.get(
        f"/grants/what-if?fy={YEAR}&insurer={MARUGAME}&lever=checkup_rate&value=0.6"
    )
    assert other.status_code == 403
    # The refusal names the parameter as every other 4xx of the JSON endpoints does.
    assert other.json()["parameter"] == "insurer", other.json()
    assert other.json()["error"].startswith("insurer: "), other.json()
    bad = app_client.get(
        f"/grants/what-if?fy={YEAR}&insurer={TAKAMATSU}&lever=checkup_rate&value=7"
    )
    assert bad.status_code == 400 and "0〜1" in bad.json()["error"]


def test_what_if_names_the_fiscal_year_it_answers_for(app_client: TestClient) -> None:
    """The slider's answer names the 交付 year its points and yen are of: the year asked for
    when the 交付金 page has it; else the year the page opens on, with a note saying that the
    year asked for has no data (``?fy=2030`` was answered for another year without a word)."""
    sign_in(app_client, "takamatsu", MUNICIPAL_PASSWORD)
    form = page(app_client, "/grants").xpath("//form[@class='what-if']")[0]
    newest = int(form.get("data-year"))
    offered = [
        int(o) for o in page(app_client, "/grants").xpath("//select[@name='fy']/option/@value")
    ]
    ask = f"insurer={TAKAMATSU}&lever=checkup_rate&value=0.6"
    for asked in offered:
        shown = app_client.get(f"/grants/what-if?fy={asked}&{ask}").json()
        assert shown["fiscal_year"] == asked, shown
        assert "データはありません" not in shown["note"], shown
    assert app_client.get(f"/grants/what-if?{ask}").json()["fiscal_year"] == newest
    shown = app_client.get(f"/grants/what-if?fy=2030&{ask}").json()
    assert shown["fiscal_year"] == newest, shown
    assert "(2030年度) のデータはありません" in shown["note"], shown
    assert f"({newest}年度) で試算しています" in shown["note"], shown


@pytest.mark.parametrize(
    ("query", "status", "parameter", "reason"),
    [
        # Well-formed numbers of no municipality: 協会けんぽ, none at all, 高松市 in 8 digits.
        ("insurer=01370014&lever=checkup_rate&value=0.5", 404, "insurer", "市町村国保はありません"),
        ("insurer=999999&lever=checkup_rate&value=0.5", 404, "insurer", "市町村国保はありません"),
        ("insurer=00370015&lever=checkup_rate&value=0.5", 404, "insurer", "市町村国保はありません"),
        (f"insurer={TAKAMATSU}&lever=no_such_lever&value=0.5", 400, "lever", "試算できない指標"),
        (f"insurer={TAKAMATSU}&lever=checkup_rate&value=7", 400, "value", "0〜1"),
        (f"insurer={TAKAMATSU}&lever=checkup_rate&value=-1", 400, "value", "0〜1"),
        # Python's float() reads these (0.5 and 1.0); no slider sends them.
        (f"insurer={TAKAMATSU}&lever=checkup_rate&value=0_0.5", 400, "value", "数値"),
        (f"insurer={TAKAMATSU}&lever=checkup_rate&value=%201", 400, "value", "数値"),
    ],
    ids=["kyokai", "none", "eight-digits", "lever", "over-1", "negative", "underscore", "space"],
)
def test_what_if_refusals_name_the_parameter_in_japanese(
    app_client: TestClient, query: str, status: int, parameter: str, reason: str
) -> None:
    """A what-if the page cannot answer says which parameter and why, in Japanese, like
    every other refusal of the dashboard: not the incentives room's English KeyError text
    ("'01370014' is not a home municipality or the prefecture") as a 400."""
    sign_in(app_client, PREFECTURE_USER, PREFECTURE_PASSWORD)
    answer = app_client.get(f"/grants/what-if?fy={YEAR}&{query}")
    assert answer.status_code == status, answer.text
    shown = answer.json()
    assert shown["parameter"] == parameter, shown
    assert shown["error"].startswith(f"{parameter}: ") and reason in shown["error"], shown
    assert not re.search(r"[A-Za-z]{4,} [a-z]{2,}", shown["error"]), shown  # no English text


def test_points_are_shown_indicator_by_indicator_with_reasons(
    app_client: TestClient, scoreboard: Any
) -> None:
    sign_in(app_client, "takamatsu", MUNICIPAL_PASSWORD)
    document = page(app_client, f"/municipalities/{TAKAMATSU}?fy={YEAR}")
    rows = cells(document, "points-by-indicator")
    unit = next(u for u in scoreboard.municipalities if u.code == TAKAMATSU)
    assert len(rows) == len(unit.indicators)
    for row, indicator in zip(rows, unit.indicators, strict=True):
        assert row["得点"] == f"{indicator.points:,.1f}"
        given = [t.reason_ja for t in indicator.tiers if t.status == "given"]
        assert all(reason in row["理由"] for reason in given)


# -- claims (kokuho.claims) ----------------------------------------------------------------------

CLAIMS_YEAR = 2022  # the synthetic claims run from 2022-05


@pytest.fixture(scope="module")
def claim_figures(home: Path) -> Any:
    from kokuho.claims import ClaimsLake, claims_figures, eligibility_errors, fiscal_months
    from kokuho.store import connect

    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    lake = ClaimsLake(home / "lake")
    try:
        figures = claims_figures(lake, engine, CLAIMS_YEAR)
        errors = eligibility_errors(lake, engine, months=fiscal_months(CLAIMS_YEAR))
    finally:
        engine.dispose()
    return figures, errors


def test_comparison_shows_the_claims_figures(app_client: TestClient, claim_figures: Any) -> None:
    figures, _ = claim_figures
    sign_in(app_client, "pref", PREFECTURE_PASSWORD)
    document = page(app_client, f"/compare?fy={CLAIMS_YEAR}")
    shown = {row["団体コード"]: row for row in cells(document, "municipal-comparison")}
    checked = 0
    for number, code in _MUNICIPALITIES.items():
        row, mine = shown[code], figures.insurers.get(number)
        if mine is None or mine.generic_share is None:
            continue
        assert row["後発医薬品使用割合"] == percent(mine.generic_share)
        assert row["地域差指数"] == f"{mine.regional_index:.3f}"
        assert row["年齢調整後一人当たり医療費"] == yen(mine.age_adjusted_cost)
        checked += 1
    assert checked >= 5
    assert document.xpath("//svg/title[contains(text(),'後発医薬品使用割合')]")


def test_claims_person_lists_for_their_own_staff(
    app_client: TestClient, claim_figures: Any, engine: sa.Engine
) -> None:
    figures, errors = claim_figures
    sign_in(app_client, "marugame", MUNICIPAL_PASSWORD)
    before = _head(engine)
    document = page(
        app_client, f"/municipalities/{MARUGAME}/lists/eligibility-errors?fy={CLAIMS_YEAR}"
    )
    rows = cells(document, "list-eligibility-errors")
    mine = [e for e in errors if e.insurer == MARUGAME]
    assert len(rows) == len(mine) > 0
    assert sorted(r["診療年月"] for r in rows) == sorted(
        e.service_month.strftime("%Y-%m") for e in mine
    )
    assert len(_audit_tail(engine, before, "dashboard:mg-pages", "shown")) == len(mine)
    duplicates = cells(
        page(app_client, f"/municipalities/{MARUGAME}/lists/duplicates?fy={CLAIMS_YEAR}"),
        "list-duplicates",
    )
    assert len(duplicates) == figures.insurers[MARUGAME].duplicate_persons
    sign_in(app_client, "pref", PREFECTURE_PASSWORD)
    counts = {
        r["市町"]: r
        for r in cells(page(app_client, f"/eligibility?fy={CLAIMS_YEAR}"), "eligibility-counts")
    }
    assert counts["丸亀市"]["資格過誤 (返戻候補)"] == str(len(mine))
    forbidden = app_client.get(
        f"/municipalities/{MARUGAME}/lists/eligibility-errors?fy={CLAIMS_YEAR}"
    )
    assert forbidden.status_code == 403


_MUNICIPALITIES = {
    "370015": "372013", "370023": "372021", "370031": "372030", "370049": "372048",
    "370056": "372056", "370064": "372064", "370072": "372072", "370080": "372081",
    "370098": "373222", "370106": "373249", "370114": "373419", "370122": "373648",
    "370130": "373869", "370148": "373877", "370155": "374032", "370163": "374041",
    "370171": "374067",
}  # fmt: skip
