"""The dashboard's sign-in and sign-out (サインイン・サインアウト): the form, its CSRF token
bound to the browser before any session, the checks of a sign-in, and where it leads on
(``next``, only a path of this site)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kokuho.web.dashboard import _params as params
from kokuho.web.dashboard import _security as sec
from kokuho.web.dashboard._accounts import Session, authenticate, close_session, open_session
from kokuho.web.dashboard._render import render
from kokuho.web.dashboard._site import Dashboard

#: Sign-in refusals all read the same, whatever the reason (unknown user, wrong password,
#: locked account), so that the answer does not tell which names exist.
SIGN_IN_REFUSED = (
    "利用者名またはパスワードが違います。失敗が5回続くと、15分間サインインできなくなります。"
)


def safe_next(target: str | None) -> str:
    # Only paths of this site: never an absolute URL or //host (open redirect).
    if (
        target
        and len(target) <= params.MAX_VALUE
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
    ):
        return target
    return "/overview"


def add_sign_in_routes(
    router: APIRouter,
    dashboard: Dashboard,
    html: Callable[..., HTMLResponse],
    form: Callable[[Request], Awaitable[Mapping[str, str]]],
    stale_form: Callable[[Request, Session, str], Response],
) -> None:
    """``GET``/``POST /login`` and ``POST /logout`` on ``router``; ``html`` makes a page answer
    with the dashboard's headers, ``form`` reads a form checked as the pages' forms are, and
    ``stale_form`` answers a form sent from a tab of an earlier session."""

    @router.get("/login")
    def login_form(request: Request) -> Response:
        if sec.current_session(dashboard, request) is not None:
            # Signed in (say in another tab): on to the page, not a form whose token that
            # sign-in retired (「フォームの有効期限が切れました」 once sent). Never back to /login.
            target = safe_next(request.query_params.get("next"))
            if target.split("?", 1)[0] == "/login":
                target = "/overview"
            return RedirectResponse(target, status_code=303)
        response = html("")
        token = sec.login_csrf(dashboard, request, response)
        response.body = render(
            dashboard.templates,
            "login.html",
            csrf=token,
            error=None,
            next=safe_next(request.query_params.get("next")),
        ).encode()
        response.headers["content-length"] = str(len(response.body))
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        fields = await sec.form(request)
        target = safe_next(fields.get("next"))
        try:
            token = params.csrf_token(fields)
        except params.BadParameter:
            token = ""
        if not sec.same(sec.cookie(dashboard, request, sec.CSRF_COOKIE), token):
            return await run_in_threadpool(
                _login_again,
                request,
                target,
                "フォームの有効期限が切れました。もう一度サインインしてください。",
                400,
            )
        try:  # a field the form cannot send (NUL, 2,000+ characters): named, not "expired"
            params.check_all(fields)
        except params.BadParameter as bad:
            return await run_in_threadpool(
                _login_again, request, target, f"入力が正しくありません: {bad}", 400
            )
        outcome = await run_in_threadpool(
            authenticate, dashboard.engine, fields.get("username", ""), fields.get("password", "")
        )
        if outcome.user is None:
            return await run_in_threadpool(_login_again, request, target, SIGN_IN_REFUSED, 401)
        session = await run_in_threadpool(open_session, dashboard.engine, outcome.user)
        response = RedirectResponse(target, status_code=303)
        sec.set_session(dashboard, request, response, session)
        return response

    def _login_again(request: Request, target: str, message: str, status: int) -> Response:
        response = html("", status)
        token = sec.login_csrf(dashboard, request, response)
        response.body = render(
            dashboard.templates, "login.html", csrf=token, error=message, next=target
        ).encode()
        response.headers["content-length"] = str(len(response.body))
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        fields = await form(request)
        session = await run_in_threadpool(sec.current_session, dashboard, request)
        if session is not None and not sec.same(session.csrf_token, fields.get("csrf_token")):
            return await run_in_threadpool(stale_form, request, session, "サインアウト")
        response = RedirectResponse("/login", status_code=303)
        if session is not None:
            await run_in_threadpool(close_session, dashboard.engine, session.token)
            sec.clear_session(dashboard, request, response)
        return response
