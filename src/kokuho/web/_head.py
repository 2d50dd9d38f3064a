"""HEAD answered as GET without the body (RFC 9110 §9.3.2), on every path of the app: browsers,
link checkers and load balancers' health checks send it.

FastAPI's routes take only the methods they are declared with (``@router.get`` is GET alone;
Starlette's ``Route`` adds HEAD itself). Declaring HEAD on every route would also put a
``head`` operation beside each ``get`` in the OpenAPI document, so instead one middleware runs
a HEAD as the GET of the same path: the same access rules, status and headers (the GET's
``Content-Length`` included), and not one byte of the body. A path without GET answers HEAD as
it answers GET (404, or 405 naming the methods it takes)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}  # more_body kept: the GET's end is the end
            await send(message)

        # The route sees a GET (request.method too): one code path, so HEAD cannot drift from
        # GET, and a page that audits what it shows audits a HEAD as the view it computed.
        await self.app({**scope, "method": "GET"}, receive, headers_only)
