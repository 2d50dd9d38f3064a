"""What the dashboard answers when the framework refuses a request before any page runs
(エラーページ): a path that does not exist (404) or a method the path does not take (405), as
a Japanese page in the dashboard's style instead of FastAPI's ``{"detail": …}`` JSON. The two
API faces answer their own formats (kokuho.verify); this is for every other path."""

from __future__ import annotations

from typing import Final

import jinja2
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from kokuho.web.dashboard._render import environment, render

#: status → (page title, what happened). A status not listed reads as a generic refusal.
_PAGES: Final[dict[int, tuple[str, str]]] = {
    404: ("ページが見つかりません",
          "このアドレスのページはありません。アドレスをお確かめください。"),
    405: ("この操作はできません",
          "このページはこの方法では開けません。リンクからお開きください。"),
    500: ("サーバーで問題が起きました",
          "この要求を処理できませんでした。時間をおいてもう一度お試しください。"
          "続くときはシステムの管理者にお知らせください。"),
    503: ("しばらくお待ちください",
          "データの取込みなど別の処理がデータベースに書き込み中のため、この要求を処理できません"
          "でした。しばらくしてからもう一度お試しください。"),
}  # fmt: skip
_OTHER: Final = ("要求を処理できません", "この要求は受け付けられませんでした。")


def _allowed(request: Request) -> str:
    """Every method some route takes on the path. Starlette's own Allow names only the first
    route that matches the path, so /login (GET and POST, two routes) would read "GET". HEAD
    with GET: the app answers a HEAD as the GET (``kokuho.web._head``)."""
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        regex = getattr(context.route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(context.route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


class ErrorPages:
    """Renders the dashboard's page for an ``HTTPException`` the framework raised."""

    def __init__(self, templates: jinja2.Environment | None = None) -> None:
        self._templates = templates or environment()

    async def __call__(self, request: Request, error: HTTPException) -> Response:
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = _allowed(request)
        if request.url.path.startswith("/static/"):
            # A missing style sheet or script is read by the browser, not shown: plain text.
            text = "Not Found" if error.status_code == 404 else "Method Not Allowed"
            return PlainTextResponse(text, status_code=error.status_code, headers=headers)
        title, reason = _PAGES.get(error.status_code, _OTHER)
        body = render(self._templates, "http_error.html", title=title, reason=reason)
        return HTMLResponse(body, status_code=error.status_code, headers=headers)
