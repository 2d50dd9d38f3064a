"""The check routes' common case without FastAPI's generic request machinery (資格確認の高速経路).

``POST /api/v1/checks/number`` and ``/checks/card`` are most of the service's traffic, and
FastAPI's per-request dependency solving (credential, service, body) cost about as much CPU as
the check itself. For these two routes :func:`fast_route` gives a route class whose handler
first tries the common case directly: a ``Bearer`` credential the authenticator accepts, a
body with ``Content-Type: application/json`` that ``json.loads`` reads into an object, and
that object valid for the route's body model (``model_validate``: the same python-mode
validation FastAPI runs on the same parsed JSON). Anything else (no credential, another
content type, a body that does not parse or validate) is handed, before any side effect, to
FastAPI's own handler for the route, so every refusal keeps its exact status and problem
document; a credential the authenticator refuses, with a valid body, is raised as that
handler's credential dependency would raise it (:func:`caller_of`). The route's OpenAPI entry
is FastAPI's, unchanged.

What the fast path does after validation is the route's own code (``_rest``): the same
service call, the same audit record committed before the answer, the same exceptions reaching
the same error handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from kokuho.verify._access import Principal
from kokuho.verify._json_body import StrictJsonRoute, strict_json

Model = TypeVar("Model", bound=BaseModel)
#: The route's work once its caller and body are known: (request, caller, body) → response.
Answer = Callable[[Request, Principal, Any], Awaitable[Response]]
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def caller_of(request: Request) -> Principal | None:
    """The authenticated caller, or None when the framework must decide (and refuse): the
    credential is read as ``HTTPBearer`` reads it and checked by the app's authenticator
    (which remembers each credential's row for a few seconds, by credential id).

    A credential the authenticator refuses is raised here, not tried a second time by the
    framework's handler: the authenticator counts refusals (verify/_access_refusals.py), and
    one request must count once. The answer is the framework's: called only once the body was
    read and validated, the framework's handler would reach the same credential dependency,
    raise the same ``AccessDenied``, and the same error handler answers it."""
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    if not credentials or scheme.lower() != "bearer":
        return None
    authenticate: Callable[[str | None], Principal] = request.app.state.authenticate
    return authenticate(credentials.strip())


async def body_of(request: Request, model: type[Model]) -> Model | None:
    """The body as ``model``, or None when the framework must decide (and refuse)."""
    if request.headers.get("content-type") != "application/json":
        return None
    try:
        body = await request.body()  # kept on the request: the framework's handler reads it again
    except ClientDisconnect:  # gone mid-body: the framework answers it (400), as for the rest
        return None
    try:
        data = strict_json(body)
    except ValueError:  # not JSON (or not I-JSON), not UTF-8 (UnicodeDecodeError is a ValueError)
        return None
    except RecursionError:  # nested too deep for the reader
        return None
    if not isinstance(data, dict):
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def fast_route(model: type[BaseModel], answer: Answer) -> type[APIRoute]:
    """A route class whose handler answers the common case with ``answer`` and hands every
    other request to FastAPI's handler for the route."""

    class FastRoute(StrictJsonRoute):
        def get_route_handler(self) -> Handler:
            generic = super().get_route_handler()

            async def handler(request: Request) -> Response:
                body = await body_of(request, model)
                caller = caller_of(request) if body is not None else None
                if body is None or caller is None:
                    return await generic(request)
                return await answer(request, caller, body)

            return handler

    return FastRoute
