"""The route table of the real app, with each path's parameters filled in, for tests that go
over every operation of the two faces (and every route of the app)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from tests.feedfiles import KOKUHO

#: A well-formed value for every path parameter the app has; a new parameter must be added.
PATH_VALUES = {
    "patient": "0" * 32,
    "category": "medication",
    "reception_number": "0" * 16,
    "insurer": KOKUHO,
    "symbol": "12",
    "number": "1001",
    "branch": "01",
    "handle": "0" * 32,
    "table_id": "x",
    "kind": "x",
    "job_id": "x",
    "case_id": "1",
}
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
FACES = ("/api/v1", "/fhir")


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # as in the OpenAPI document
    path: str  # with the parameters filled in
    route: Any  # the effective (prefixed) route

    @property
    def face(self) -> str:
        return "fhir" if self.template.startswith("/fhir") else "rest"

    @property
    def takes_body(self) -> bool:
        return self.method in ("POST", "PUT")

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def fill(template: str, **values: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return values.get(name, PATH_VALUES[name])

    return _PARAM.sub(value, template)


def routes(app: FastAPI) -> list[Any]:
    """Every route of the app, included routers flattened (FastAPI includes them lazily)."""
    return [context.route for context in iter_route_contexts(app.routes)]


def operations(app: FastAPI, *, faces_only: bool = True) -> list[Operation]:
    found = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        template = _PARAM.sub(lambda m: "{" + m.group(1) + "}", context.path)
        if faces_only and not template.startswith(FACES):
            continue
        for method in sorted(context.methods - {"HEAD"}):
            found.append(Operation(method, template, fill(context.path), context.route))
    return found


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    """Every method some route answers on this concrete path; HEAD wherever GET (the app
    answers a HEAD as the GET)."""
    methods: set[str] = set()
    for route in routes(app):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path) and getattr(route, "methods", None):
            methods |= route.methods
    return methods | {"HEAD"} if "GET" in methods else methods
