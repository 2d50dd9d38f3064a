"""Request bodies read as strict JSON on both faces: an object that names a member twice, and
NaN or Infinity, are refused (400) rather than read.

Python's reader keeps the last of a repeated member and accepts NaN and ±Infinity. A body such
as ``{"purpose": "marketing", "purpose": "care"}`` was then answered as one request while a
proxy, a log or the sender's own software reading the first value saw another (RFC 8259 §4
leaves such a text's meaning to the reader; I-JSON, RFC 7493 §2.3, forbids it).

:class:`StrictJsonRoute` reads the body of every route of the two faces before FastAPI does and
leaves the result where Starlette's ``Request.json`` keeps what it has read (``_json``), for
the framework to validate; a body that is not JSON at all is left to the framework's own
refusal. Only a route with a body parameter is read: one that takes none never reads a body
(``/card/challenges``), and one that reads its body itself (the FHIR check) calls
:func:`strict_json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from kokuho.ids import scrub_mynumbers

_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


class RepeatedMember(ValueError):
    """A JSON text that is no I-JSON: a member named twice in one object, NaN or Infinity."""


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                shown = scrub_mynumbers(name[:40])  # the caller's text
                raise RepeatedMember(f"duplicate member {shown!r} in one object")
            seen.add(name)
    return members


def _constant(name: str) -> Any:
    raise RepeatedMember(f"{name} is not a JSON number")


def strict_json(body: bytes) -> Any:
    """``json.loads(body)``, refusing repeated members, NaN and Infinity
    (:class:`RepeatedMember`, a ``ValueError`` like every other reason the text is refused)."""
    return json.loads(body, object_pairs_hook=_members, parse_constant=_constant)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _keep_strict(request: Request, body: bytes) -> None:
    """Leaves ``body`` read by :func:`strict_json` where ``Request.json()`` returns it from; 400
    when it is no I-JSON. A body that is not JSON at all is left unread: the framework refuses
    it in its own words."""
    try:
        parsed = strict_json(body)
    except RepeatedMember as error:
        raise HTTPException(400, f"the body is not I-JSON: {error}") from None
    except (ValueError, RecursionError):
        return
    request._json = parsed


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is read by :func:`strict_json` (400 when it is no I-JSON)."""

    def get_route_handler(self) -> Handler:
        framework = super().get_route_handler()

        async def handler(request: Request) -> Response:
            if self.body_field is not None and request.method in _BODY_METHODS:
                try:
                    body = await request.body()
                except ClientDisconnect:  # gone mid-body: the framework answers it (400)
                    return await framework(request)
                if body:
                    _keep_strict(request, body)
            return await framework(request)

        return handler
