"""Sign-in plumbing: the session cookie (HttpOnly, SameSite=Strict, Secure over https), the
CSRF tokens of the forms, form bodies and the security headers of every page."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Coroutine
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.datastructures import ImmutableMultiDict
from starlette.responses import Response

from kokuho.web._headers import SECURITY_HEADERS
from kokuho.web.dashboard._accounts import Session, resume_session
from kokuho.web.dashboard._site import Dashboard

SESSION_COOKIE: Final = "kokuho_session"
CSRF_COOKIE: Final = "kokuho_csrf"
MAX_FORM: Final = 8192
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
# One table for the whole app (the app's middleware adds it to every response).
HEADERS: Final = SECURITY_HEADERS


def is_secure(dashboard: Dashboard, request: Request) -> bool:
    if dashboard.secure_cookies is not None:
        return dashboard.secure_cookies
    return request.url.scheme == "https"


def _name(base: str, secure: bool) -> str:
    # __Host- cookies must be Secure, for path / and without a Domain: no subdomain can set them.
    return f"__Host-{base}" if secure else base


def cookie(dashboard: Dashboard, request: Request, base: str) -> str | None:
    # Only the name this scheme sets: over https a plain cookie may come from a sibling host
    # (cookie tossing), which could choose the sign-in form's token or plant its session.
    return request.cookies.get(_name(base, is_secure(dashboard, request)))


def current_session(dashboard: Dashboard, request: Request) -> Session | None:
    token = cookie(dashboard, request, SESSION_COOKIE)
    if not token:
        return None
    session = resume_session(dashboard.engine, token) if len(token) <= 100 else None
    # What the answer does with the cookie (SessionCookieRoute): renew it to the session's
    # new end, or remove it when its session has ended.
    request.state.dashboard_cookie = (session, is_secure(dashboard, request))
    return session


def _set_cookie(response: Response, session: Session, secure: bool) -> None:
    response.set_cookie(
        _name(SESSION_COOKIE, secure),
        session.token,
        max_age=session.seconds_left(),
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def _delete_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(
        _name(SESSION_COOKIE, secure), path="/", secure=secure, httponly=True, samesite="strict"
    )


def set_session(
    dashboard: Dashboard, request: Request, response: Response, session: Session
) -> None:
    secure = is_secure(dashboard, request)
    _set_cookie(response, session, secure)
    response.delete_cookie(_name(CSRF_COOKIE, secure), path="/", secure=secure, httponly=True)


def clear_session(dashboard: Dashboard, request: Request, response: Response) -> None:
    _delete_cookie(response, is_secure(dashboard, request))


class SessionCookieRoute(APIRoute):
    """The dashboard's routes: an answer to a request that carried a session cookie keeps
    the cookie in step with the session (docs/dashboard.md, Sessions). A live session's
    cookie is set again with the Max-Age the session has left (30 minutes from this request,
    never past its 8 hours); the cookie of an ended one (signed out elsewhere, idle, user
    disabled) is removed, not kept by the browser for hours. Sign-in and sign-out set their
    own."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def in_step(request: Request) -> Response:
            response = await handler(request)
            seen = getattr(request.state, "dashboard_cookie", None)
            if seen is not None:
                session, secure = seen
                name = _name(SESSION_COOKIE, secure)
                if not any(
                    line.startswith(f"{name}=") for line in response.headers.getlist("set-cookie")
                ):
                    if session is None:
                        _delete_cookie(response, secure)
                    else:
                        _set_cookie(response, session, secure)
            return response

        return in_step


def login_csrf(dashboard: Dashboard, request: Request, response: Response) -> str:
    """The sign-in form's token: double submit (the same random value in a cookie and in the
    form), since there is no session yet to keep it in."""
    token = cookie(dashboard, request, CSRF_COOKIE) or ""
    if not _TOKEN.fullmatch(token):  # only a token this site issued is ever echoed back
        token = secrets.token_urlsafe(32)
    secure = is_secure(dashboard, request)
    response.set_cookie(
        _name(CSRF_COOKIE, secure),
        token,
        max_age=3600,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return token


def same(expected: str | None, given: str | None) -> bool:
    # Compared as bytes: compare_digest refuses non-ASCII str (a 500 from any form before).
    return bool(expected and given) and hmac.compare_digest(
        str(expected).encode(), str(given).encode()
    )


async def form(request: Request) -> ImmutableMultiDict[str, str]:
    """An application/x-www-form-urlencoded body (small forms only): a longer one reads as
    empty (no token: refused). Read only up to the limit, before any session is checked, so
    that nobody makes the server hold a body of hundreds of megabytes."""
    length = request.headers.get("content-length", "")
    if length and (not (length.isascii() and length.isdigit()) or int(length) > MAX_FORM):
        return ImmutableMultiDict()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM:
            return ImmutableMultiDict()
        chunks.append(chunk)
    body = b"".join(chunks)
    # Every field as sent, a name given twice included (params.check_all refuses it).
    return ImmutableMultiDict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def secure_headers(response: Response) -> Response:
    for key, value in HEADERS.items():
        response.headers.setdefault(key, value)
    return response
