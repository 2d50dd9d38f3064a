"""Every error of the two faces in its documented format, including the ones the framework
raises before a route runs (unknown path, wrong method, a body that does not parse, too large,
not JSON). Which face answers is decided by the path prefix."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response

from kokuho.store import busy_refusal
from kokuho.verify._access import AccessDenied
from kokuho.verify._problems import (
    FRAMEWORK_STATUSES,
    KINDS,
    MAX_BODY_BYTES,
    TITLES,
    error_responses,
    kind_for,
    outcome,
    problem,
    status_for,
)

REST_PREFIX: Final = "/api/v1"
FHIR_PREFIX: Final = "/fhir"
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def face_of(path: str) -> str | None:
    """ "rest", "fhir" or None (the dashboard and everything else)."""
    if _under(path, REST_PREFIX):
        return "rest"
    return "fhir" if _under(path, FHIR_PREFIX) else None


def face_error(
    path: str,
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response | None:
    """The face's error response for ``path``, or None when the path is on neither face."""
    face = face_of(path)
    if face == "fhir":
        return outcome(status, detail, headers=headers)
    if face == "rest":
        kind = kind or kind_for(status)
        title = TITLES.get(status, "Error")
        return problem(status, title, detail, kind=kind, headers=headers, **extra)
    return None


#: Answers a framework error on a path of neither face (the dashboard's pages).
OtherPaths = Callable[[Request, HTTPException], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]
_log = logging.getLogger("kokuho.web")


async def _http(request: Request, error: Exception, other: OtherPaths | None = None) -> Response:
    assert isinstance(error, HTTPException)
    if face_of(request.url.path) is None and other is not None:
        return await other(request, error)
    detail = str(error.detail) if error.detail else TITLES.get(error.status_code, "Error")
    headers = dict(error.headers or {})
    if error.status_code == 404:
        detail = f"no operation at {request.url.path}"
    elif error.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
        if "Allow" in headers:  # a 405 raised without one must not gain an empty Allow
            headers["Allow"] = _with_head(headers["Allow"])
    elif error.status_code == 400:
        # FastAPI's words when a body is not UTF-8 or nests too deep for the JSON reader.
        detail = f"the body is not JSON that can be read ({detail})"
    response = face_error(request.url.path, error.status_code, detail, headers=headers)
    return response or await http_exception_handler(request, error)


def _with_head(allow: str) -> str:
    """An ``Allow`` naming HEAD beside GET: the app answers a HEAD as the path's GET
    (``kokuho.web``, docs/api.md), though the routes declare GET alone."""
    methods = {m.strip() for m in allow.split(",") if m.strip()}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _field(loc: tuple[Any, ...]) -> str:
    # loc starts with where the value came from (body, query, path, header).
    return ".".join(str(part) for part in loc[1:]) or str(loc[0])


def _message(error: Any) -> str:
    # Our own validators' words, without pydantic's "Value error, " in front.
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    return str(error["msg"])


async def _invalid(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    found = error.errors()
    if any(e["type"] == "json_invalid" for e in found):
        reason = next(e.get("ctx", {}).get("error", "") for e in found)
        detail = f"the body is not JSON: {reason}".rstrip(": ")
        response = face_error(request.url.path, 400, detail, kind="malformed-body")
    else:
        errors = [{"field": _field(tuple(e["loc"])), "message": _message(e)} for e in found]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        status = 400 if face_of(request.url.path) == "fhir" else 422
        response = face_error(request.url.path, status, detail, kind="invalid", errors=errors)
    return response or problem(422, "Invalid request", detail, kind="invalid")


async def _denied(request: Request, error: Exception) -> Response:
    assert isinstance(error, AccessDenied)
    status = status_for(error.reason)
    if face_of(request.url.path) == "fhir":
        return outcome(status, str(error))
    return problem(status, TITLES[status], str(error), kind=error.reason)


async def _value(request: Request, error: Exception) -> Response:
    status = 400 if face_of(request.url.path) == "fhir" else 422
    return face_error(request.url.path, status, str(error), kind="invalid") or problem(
        422, "Invalid request", str(error), kind="invalid"
    )


async def _missing(request: Request, error: Exception) -> Response:
    detail = str(error).strip("'\"")
    return face_error(request.url.path, 404, detail) or problem(
        404, "Not found", detail, kind="not-found"
    )


#: On a fault's answer: Starlette re-raises the fault once the answer is sent and the server
#: then drops the connection, so the client must not keep it for its next request (a pooled
#: client would send another caller's check down a closed connection and lose it).
_CLOSE: Final = {"Connection": "close"}


async def _fault(request: Request, error: Exception) -> Response:
    if busy_refusal(error) is not None:
        # SQLite's write lock held past the wait by a command (an import): transient, retried.
        detail = "the database is busy with another writer (an import); try again shortly"
        headers = {**_CLOSE, "Retry-After": str(BUSY_RETRY_SECONDS)}
        busy = face_error(request.url.path, 503, detail, headers=headers)
        if busy is not None:
            return busy
    # The reason stays in the server log: a fault's text may carry what the caller sent.
    detail = "the server could not answer this request"
    response = face_error(request.url.path, 500, detail, headers=dict(_CLOSE))
    return response or PlainTextResponse("Internal Server Error", status_code=500, headers=_CLOSE)


#: Seconds a page refused while another command writes the SQLite file asks the browser to wait.
BUSY_RETRY_SECONDS: Final = 10


def install_error_handlers(app: FastAPI, other: OtherPaths | None = None) -> None:
    """problem+json / OperationOutcome for every error the faces raise, and the body guard.
    ``other`` answers the framework's 404, 405 … on every other path (else FastAPI does)."""

    async def http_error(request: Request, error: Exception) -> Response:
        return await _http(request, error, other)

    def elsewhere_a_fault(handler: Handler, *, log: bool = True) -> Handler:
        # On a path of neither face (the dashboard's pages) a ValueError or a LookupError is
        # no request error the faces defined: a fault, answered by ``other``'s 500 page
        # without the error's text (it may carry what the database holds: a name), which goes
        # to the server log (any other exception is logged by the server, re-raised).
        async def handle(request: Request, error: Exception) -> Response:
            if face_of(request.url.path) is None and other is not None:
                if busy_refusal(error) is not None:
                    # SQLite's write lock held past the wait by a command (an import): the
                    # page says so and when to try again; not a fault to report.
                    busy = HTTPException(503, headers={"Retry-After": str(BUSY_RETRY_SECONDS)})
                    return await other(request, busy)
                if log:
                    _log.error("fault on %s", request.url.path, exc_info=error)
                response = await other(request, HTTPException(500))
                response.headers.update(_CLOSE)
                return response
            return await handler(request, error)

        return handle

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(AccessDenied, _denied)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(ValueError, elsewhere_a_fault(_value))
    app.add_exception_handler(LookupError, elsewhere_a_fault(_missing))
    app.add_exception_handler(Exception, elsewhere_a_fault(_fault, log=False))
    app.add_middleware(BodyGuard)
    framework_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI lists its own 422 for every operation with parameters; on FHIR a parameter
        # that fails is a 400 OperationOutcome (already listed), never that 422.
        schema = framework_openapi()
        for path, item in schema["paths"].items():
            face = face_of(path)
            if face is None:
                continue
            # What the framework can answer on any operation: a method the path does not take
            # (405, with Allow) and a fault of the server (500).
            anywhere = error_responses(*FRAMEWORK_STATUSES, fhir_face=face == "fhir")
            for operation in item.values():
                responses = operation["responses"]
                if face == "fhir":
                    responses.pop("422", None)
                for status, response in anywhere.items():
                    responses.setdefault(str(status), response)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way


def _json_type(content_type: str, face: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if face == "fhir":
        return media in ("application/fhir+json", "application/json")
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))  # fmt: skip


class BodyGuard:
    """413 for a body over :data:`MAX_BODY_BYTES` and 415 for one that is not JSON, on both
    faces, before any of it is parsed. A body without Content-Length (chunked) is read up to
    the limit here and handed on whole, so the limit holds for it too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        face = face_of(scope.get("path", "")) if scope["type"] == "http" else None
        if face is None or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        # Only the two headers this needs (ASGI servers send names in lower case).
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
                   if k in (b"content-length", b"content-type")}  # fmt: skip
        length = headers.get("content-length")
        if length is not None and not (length.isascii() and length.isdigit()):
            await self._refuse(scope, send, 400, "malformed-body", "Content-Length is not a number")
            return
        if length is not None and int(length) > MAX_BODY_BYTES:
            await self._refuse(scope, send, 413, "payload-too-large", KINDS["payload-too-large"][1])
            return
        if length is None:
            body = await self._read(receive)
            if body is None:
                await self._refuse(scope, send, 413, "payload-too-large",
                                   KINDS["payload-too-large"][1])  # fmt: skip
                return
            receive = _replay(body)
            length = str(len(body))
        if length != "0" and not _json_type(headers.get("content-type", ""), face):
            given = headers.get("content-type") or "no Content-Type"
            reason = f"{given} is not JSON: {KINDS['unsupported-media-type'][1]}"
            await self._refuse(scope, send, 415, "unsupported-media-type", reason)
            return
        if length != "0":
            receive = _utf8_only(receive)
        await self.app(scope, receive, send)

    @staticmethod
    async def _read(receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, kind: str, detail: str) -> None:
        response = face_error(scope["path"], status, detail, kind=kind)
        assert response is not None  # only called on a face
        await response(scope, _no_receive, send)


_NOT_UTF8: Final = (
    "not UTF-8: a NUL byte or a UTF-16/32 byte order mark at its start (UTF-16, UTF-32 or "
    "compressed); JSON is exchanged in UTF-8 (RFC 8259 §8.1)"
)


def _utf16_or_32(head: bytes) -> bool:
    """Whether a body starts as UTF-16 or UTF-32 text, which ``json.loads`` would otherwise
    guess and read: a byte order mark, or a NUL among its first four bytes (a UTF-8 JSON text
    has none; JSON's first character is ASCII)."""
    return head.startswith((b"\xfe\xff", b"\xff\xfe")) or b"\x00" in head[:4]


def _utf8_only(receive: Receive) -> Receive:
    """``receive`` that refuses (HTTPException 400, answered as ``malformed-body`` or an
    OperationOutcome) a body starting as UTF-16 or UTF-32, once the route reads that far. Only
    a route that reads its body is refused: one that takes none never asks."""
    head = b""

    async def checked() -> Message:
        nonlocal head
        message = await receive()
        if len(head) < 4 and message["type"] == "http.request":
            head += message.get("body", b"")
            if _utf16_or_32(head):
                raise HTTPException(400, _NOT_UTF8)
            if not message.get("more_body", False):
                head = b"    "  # the whole body was seen: nothing more to check
        return message

    return checked


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
