"""The dashboard's HTTP face under ``/``: sign-in, the pages, their downloads (?download=
table&format=csv|xlsx on the page's own URL, so the page's access rules apply), the progress
of figures being computed, and the what-if endpoint. Every parameter goes through
:mod:`._params` first: a value outside its allowed ones is a 400, never a page or a record."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kokuho.web.dashboard import (
    _pages,
    _pages_boundary,
    _pages_grants,
    _pages_lists,
    _pages_premiums,
    _pages_provision,
)
from kokuho.web.dashboard import _params as params
from kokuho.web.dashboard import _security as sec
from kokuho.web.dashboard._accounts import Session, User
from kokuho.web.dashboard._audit import record_refusal, record_view
from kokuho.web.dashboard._page import NotFound, Page, Pending, Refused
from kokuho.web.dashboard._render import render
from kokuho.web.dashboard._routes_sign_in import add_sign_in_routes, safe_next
from kokuho.web.dashboard._site import Dashboard
from kokuho.web.dashboard._sources import STILL_COMPUTING, what_if
from kokuho.web.dashboard._tabular import to_csv, to_xlsx

NAV = (
    ("overview", "/overview", "県の概況"),
    ("compare", "/compare", "市町村比較"),
    ("municipality", "/municipalities", "市町村の詳細"),
    ("grants", "/grants", "交付金"),
    ("premiums", "/premiums", "保険料・収納"),
    ("eligibility", "/eligibility", "資格"),
    ("provisions", "/provisions", "データ提供"),
    ("boundary", "/boundary", "二重払い・資格適正化"),
    ("audit", "/audit", "アクセス記録"),
)
Outcome = Page | Pending | Refused | NotFound
#: The browser asks every site for /favicon.ico; a small SVG shipped with kokuho (no CDN).
FAVICON = Path(__file__).resolve().parent.parent / "static" / "favicon.svg"
#: A notice is a whole page of its own with its print CSS inline and no script at all.
NOTICE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
#: Downloads that may wait on the server for figures still being computed, at one time (the
#: threadpool that runs the pages has 40 threads).
DOWNLOAD_WAITERS = 4
#: 再集計 drops the figures finished at least this many seconds ago; fresher ones are kept, so
#: that one user pressing it again and again cannot keep every user's pages on 「集計中です」.
REFRESH_MIN_AGE = 60.0
#: The query parameters that make a page's answer a file (docs/dashboard.md, downloads).
SAVING = frozenset({"download", "format"})


def _year(request: Request) -> int | None:
    params.check_all(request.query_params)
    return params.fiscal_year(request.query_params)


def build_router(dashboard: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=sec.SessionCookieRoute)
    # The requests that may wait on a worker thread for figures being computed: downloads
    # and the what-if, together.
    waiters = threading.Semaphore(DOWNLOAD_WAITERS)

    def html(body: str, status: int = 200) -> HTMLResponse:
        response = HTMLResponse(body, status_code=status)
        sec.secure_headers(response)
        return response

    def page_html(
        request: Request, session: Session, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:  # noqa: E501
        return html(
            render(
                dashboard.templates,
                name,
                user=session.user,
                csrf=session.csrf_token,
                nav=NAV,
                path=request.url.path,
                query=dict(request.query_params),
                **context,
            ),
            status,
        )

    def serve(request: Request, active: str, build: Callable[[User], Outcome]) -> Response:
        params.check_all(request.query_params)
        wanted = params.download(request.query_params)
        session = sec.current_session(dashboard, request)
        if session is None:
            # Back to the page after sign-in, not to the download: the browser would save
            # the file and leave the tab on the sign-in form, which reads as refused.
            kept = [(k, v) for k, v in request.query_params.multi_items() if k not in SAVING]
            back = request.url.path + (f"?{urlencode(kept)}" if kept else "")
            return RedirectResponse(f"/login?next={quote(back)}", status_code=303)
        user = session.user
        outcome = build(user)
        if isinstance(outcome, Pending) and wanted and waiters.acquire(blocking=False):
            # A download waits for its figures on this worker thread; a few at a time, else
            # enough of them would hold every thread of the pool and stall every other page.
            # The others get the progress page, which reloads into the download.
            try:
                deadline = time.monotonic() + 300
                while isinstance(outcome, Pending) and time.monotonic() < deadline:
                    time.sleep(0.1)
                    outcome = build(user)
            finally:
                waiters.release()
        if isinstance(outcome, Pending):
            return page_html(
                request,
                session,
                "pending.html",
                active=active,
                title=outcome.title,
                jobs=[job.as_json() for job in outcome.jobs],
            )
        if isinstance(outcome, Refused):
            if outcome.audit:
                record_refusal(dashboard.audit, user.username, *outcome.audit)
            return page_html(
                request,
                session,
                "error.html",
                outcome.status,
                active=active,
                title=outcome.title,
                reason=outcome.reason,
            )
        if isinstance(outcome, NotFound):
            return page_html(
                request,
                session,
                "error.html",
                404,
                active=active,
                title=outcome.title,
                reason=outcome.reason,
            )
        assert isinstance(outcome, Page)
        if wanted:
            return _download(request, session, outcome, *wanted)
        for write in outcome.deferred:
            write()
        if outcome.persons is not None:
            record_view(
                dashboard.audit,
                user.username,
                outcome.persons[0],
                outcome.persons[1],
                outcome.persons[2],
            )
        return page_html(
            request,
            session,
            outcome.template,
            active=active,
            title=outcome.title,
            tables=outcome.tables,
            **outcome.context,
        )

    def _download(
        request: Request, session: Session, page: Page, table_id: str, kind: params.Format
    ) -> Response:
        data = page.tables.get(table_id)
        if data is None:
            return page_html(
                request,
                session,
                "error.html",
                404,
                active="",
                title="ダウンロード",
                reason="その表はありません",
            )
        if data.person_level:
            for write in page.deferred:
                write()
        if data.person_level and page.persons is not None:
            record_view(
                dashboard.audit,
                session.user.username,
                page.persons[0],
                page.persons[1],
                page.persons[2],
                outcome=f"downloaded:{kind}",
            )
        if kind == "xlsx":
            body, media = (
                to_xlsx(data),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )
        else:
            body, media = to_csv(data), "text/csv; charset=utf-8"
        response = Response(body, media_type=media)
        # The caption holds place names from the register's files: every byte but RFC 8187's
        # unreserved ones is encoded, "/" included (quote keeps it by default).
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{data.table_id}.{kind}"; '
            f"filename*=UTF-8''{quote(data.caption, safe='')}.{kind}"
        )
        return sec.secure_headers(response)

    async def _form(request: Request) -> Mapping[str, str]:
        """A signed-in form's fields, its CSRF token well-formed (else 400)."""
        fields = await sec.form(request)
        params.check_all(fields)
        params.csrf_token(fields)
        return fields

    @router.get("/favicon.ico")
    def favicon() -> Response:
        response = Response(FAVICON.read_bytes(), media_type="image/svg+xml")
        response.headers["Cache-Control"] = "public, max-age=86400"
        return sec.secure_headers(response)

    @router.get("/")
    def home(request: Request) -> Response:
        return RedirectResponse("/overview", status_code=303)

    def _stale_form(request: Request, session: Session, undone: str) -> Response:
        # A well-formed token of another (earlier) session: a tab left open across a sign-in.
        # Say that nothing was done; a redirect to /login would read as signed out while the
        # session goes on. The page's own forms carry the session's token. (再集計 and
        # 改ざん検査 keep their redirect to /login: nothing there reads as done.)
        return page_html(
            request,
            session,
            "error.html",
            400,
            active="",
            title="フォームの有効期限が切れました",
            reason=f"以前の画面から送られたため、{undone}はしていません。"
            f"この画面からもう一度操作してください。",
        )

    add_sign_in_routes(router, dashboard, html, _form, _stale_form)

    @router.get("/overview")
    def overview(request: Request) -> Response:
        return serve(request, "overview", lambda user: _pages.overview(dashboard, user))

    @router.get("/compare")
    def compare(request: Request) -> Response:
        year = _year(request)
        return serve(request, "compare", lambda user: _pages.compare(dashboard, user, year))

    @router.get("/municipalities")
    def municipalities(request: Request) -> Response:
        year = _year(request)
        session = sec.current_session(dashboard, request)
        if session is None:
            return RedirectResponse("/login?next=/municipalities", status_code=303)
        chosen = request.query_params.get("to", "")
        if chosen.startswith("/municipalities/") and safe_next(chosen) == chosen:
            return RedirectResponse(chosen, status_code=303)
        own = session.user.insurer_number
        first = own or next((m.insurer_number for m in dashboard.municipalities()), None)
        suffix = f"?{urlencode({'fy': year})}" if year is not None else ""
        return RedirectResponse(f"/municipalities/{first}{suffix}" if first else "/overview", 303)

    @router.get("/municipalities/{insurer}")
    def municipality(request: Request, insurer: str) -> Response:
        year = _year(request)
        params.insurer_number(insurer)
        return serve(
            request,
            "municipality",
            lambda user: _pages.municipality(dashboard, user, insurer, year),
        )

    @router.get("/municipalities/{insurer}/lists/{kind}")
    def person_list(request: Request, insurer: str, kind: str) -> Response:
        year = _year(request)
        params.insurer_number(insurer)
        return serve(
            request,
            "municipality",
            lambda user: _pages_lists.person_list(dashboard, user, insurer, kind, year),
        )

    @router.get("/grants")
    def grants(request: Request) -> Response:
        year = _year(request)
        return serve(request, "grants", lambda user: _pages_grants.grants(dashboard, user, year))

    @router.get("/grants/what-if")
    def grants_what_if(request: Request) -> Response:
        year = _year(request)
        session = sec.current_session(dashboard, request)
        if session is None:
            return JSONResponse({"error": "サインインしてください"}, status_code=401)
        insurer = params.insurer_number(request.query_params.get("insurer", ""), "insurer")
        if not session.user.may_see_municipality(insurer):
            reason = "insurer: 他の市町村は試算できません"
            return JSONResponse({"error": reason, "parameter": "insurer"}, status_code=403)
        if _pages.find_municipality(dashboard, insurer) is None:
            reason = f"insurer: 保険者番号 {insurer} の市町村国保はありません"
            return JSONResponse({"error": reason, "parameter": "insurer"}, status_code=404)
        value = params.rate(request.query_params)
        lever = params.lever(request.query_params)
        # Waiting for figures holds a worker thread: a few at a time, as downloads (one pool
        # of waiters), so a burst of slider moves during a 再集計 cannot stall other pages.
        if waiters.acquire(blocking=False):
            try:
                answer = what_if(dashboard, year, insurer, lever, value)
            finally:
                waiters.release()
        else:
            answer = what_if(dashboard, year, insurer, lever, value, wait=False)
        if answer.get("error") == STILL_COMPUTING:
            response = JSONResponse(answer, status_code=503, headers={"Retry-After": "5"})
        else:
            response = JSONResponse(answer, status_code=200 if "error" not in answer else 400)
        return sec.secure_headers(response)

    @router.get("/premiums")
    def premiums(request: Request) -> Response:
        year = _year(request)
        raw = request.query_params.get("insurer", "")
        insurer = params.insurer_number(raw, "insurer") if raw else None
        return serve(
            request,
            "premiums",
            lambda user: _pages_premiums.premiums(dashboard, user, year, insurer),
        )

    @router.get("/eligibility")
    def eligibility(request: Request) -> Response:
        year = _year(request)
        return serve(
            request, "eligibility", lambda user: _pages_lists.eligibility(dashboard, user, year)
        )

    @router.get("/provisions")
    def provisions(request: Request) -> Response:
        params.check_all(request.query_params)
        return serve(
            request, "provisions", lambda user: _pages_provision.provisions_page(dashboard, user)
        )

    def _seen_as(request: Request) -> str:
        # A download is recorded as such in the boundary room's audit records.
        wanted = params.download(request.query_params)
        return f"downloaded:{wanted[1]}" if wanted else "shown"

    @router.get("/boundary")
    def boundary(request: Request) -> Response:
        params.check_all(request.query_params)
        seen, on = _seen_as(request), params.as_of_day(request.query_params)
        return serve(
            request, "boundary", lambda user: _pages_boundary.overview(dashboard, user, seen, on)
        )

    @router.get("/boundary/cases/{case_id}")
    def boundary_case(request: Request, case_id: str) -> Response:
        params.check_all(request.query_params)
        number, seen = params.case_id(case_id), _seen_as(request)
        on = params.as_of_day(request.query_params)
        return serve(
            request,
            "boundary",
            lambda user: _pages_boundary.case_page(dashboard, user, number, seen, on),
        )

    @router.get("/boundary/cases/{case_id}/notices/{kind}")
    def boundary_notice(request: Request, case_id: str, kind: str) -> Response:
        params.check_all(request.query_params)
        number = params.case_id(case_id)
        session = sec.current_session(dashboard, request)
        if session is None:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        outcome = _pages_boundary.notice(dashboard, session.user, number, kind)
        if isinstance(outcome, str):
            response = HTMLResponse(outcome)
            response.headers["Content-Security-Policy"] = NOTICE_CSP
            return sec.secure_headers(response)
        if isinstance(outcome, Refused) and outcome.audit:
            record_refusal(dashboard.audit, session.user.username, *outcome.audit)
        return page_html(
            request,
            session,
            "error.html",
            outcome.status if isinstance(outcome, Refused) else 404,
            active="boundary",
            title=outcome.title,
            reason=outcome.reason,
        )

    @router.get("/audit")
    def audit(request: Request) -> Response:
        params.check_all(request.query_params)
        before = params.before(request.query_params)
        return serve(request, "audit", lambda user: _pages_lists.audit_log(dashboard, user, before))

    @router.post("/audit/verify")
    async def audit_verify(request: Request) -> Response:
        fields = await _form(request)
        session = await run_in_threadpool(sec.current_session, dashboard, request)
        if session is None or not sec.same(session.csrf_token, fields.get("csrf_token")):
            return RedirectResponse("/login?next=/audit", status_code=303)
        dashboard.cache.forget("chain")
        dashboard.chain()
        return RedirectResponse("/audit#chain", status_code=303)

    @router.post("/refresh")
    async def refresh(request: Request) -> Response:
        fields = await _form(request)
        session = await run_in_threadpool(sec.current_session, dashboard, request)
        if session is None or not sec.same(session.csrf_token, fields.get("csrf_token")):
            return RedirectResponse("/login", status_code=303)
        dashboard.cache.forget(older_than=REFRESH_MIN_AGE)
        return RedirectResponse(safe_next(fields.get("next")), status_code=303)

    @router.get("/jobs/{job_id}")
    def job_progress(request: Request, job_id: str) -> Response:
        if sec.current_session(dashboard, request) is None:
            return JSONResponse({"error": "サインインしてください"}, status_code=401)
        job = dashboard.cache.find(params.job_id(job_id))
        if job is None:
            # Finished bundles are kept for 15 minutes (docs/dashboard.md): then forgotten.
            reason = "job: その集計はありません (終わってから15分で消えます)"
            return JSONResponse({"error": reason, "parameter": "job"}, status_code=404)
        return sec.secure_headers(JSONResponse(job.as_json()))

    return router
