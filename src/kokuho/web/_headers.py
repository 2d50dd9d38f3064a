"""The security headers of every response the app sends (pages, API, FHIR, redirects,
errors, static files): one table, applied by one middleware in ``_app``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

_COMMON_CSP: Final = (
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        + _COMMON_CSP
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Answers carry personal data: no shared or browser cache may keep them.
    "Cache-Control": "no-store",
}
#: The OpenAPI browser (/docs, /redoc) is FastAPI's page: its script and style come from the
#: jsDelivr CDN and start with an inline script. It shows no data but /openapi.json.
DOCS_CSP: Final = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src blob:; " + _COMMON_CSP
)
DOCS_PATHS: Final = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


def _encoded(table: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in table.items()]


_DEFAULT: Final = _encoded(SECURITY_HEADERS)
_DOCS: Final = _encoded({**SECURITY_HEADERS, "Content-Security-Policy": DOCS_CSP})
_STATIC: Final = [(k, v) for k, v in _DEFAULT if k != b"cache-control"]


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The headers a response to ``path`` must carry (a route may set its own first)."""
    if path in DOCS_PATHS:
        return _DOCS
    # The stylesheet and script are public and the same for everyone: browsers may cache them.
    return _STATIC if path.startswith("/static/") else _DEFAULT
