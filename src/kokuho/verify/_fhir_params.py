"""The parameters FHIR R4 defines for every interaction (http.html#parameters), on ``/fhir``.

- ``_format``: ``json``, ``application/json`` or ``application/fhir+json`` (media-type
  parameters such as ``;fhirVersion=4.0`` allowed; a ``+`` left unescaped in the URL reads as a
  space and is taken as ``+``) is served as JSON, always as ``application/fhir+json`` (the
  FHIR JSON format, which is what R4 says each of them means). Any other (XML, Turtle,
  HTML …) is 406 Not Acceptable with an OperationOutcome naming ``_format``: this server
  writes JSON only. (415 is for a *body* in a format the server does not read; the body's
  ``Content-Type`` answers that.)
- ``Accept`` (http.html#mime-type, server-driven negotiation, RFC 9110 §12.5.1) when there is no
  ``_format`` (which overrides it): a header none of whose media ranges of non-zero ``q`` is
  ``application/fhir+json``, ``application/json``, ``application/*`` or ``*/*`` (say
  ``application/fhir+xml`` alone) is 406 with an OperationOutcome naming ``Accept``, rather
  than JSON the client did not ask for. No header, or an empty one, is JSON.
- ``_elements`` (search.html#elements, also on reads): a comma-separated list of top-level
  element names. The answer keeps them, the resource's mandatory elements (minimum cardinality
  1 in R4), ``id``, ``meta`` and the contained resources its kept references point at, and is
  tagged ``SUBSETTED`` (so that it is never taken for the whole resource). Errors are never
  subsetted. A name outside ``[A-Za-z][A-Za-z0-9]*`` (R4 names top-level elements only) is 400.
- ``_pretty``: ``true`` indents the JSON, ``false`` does not; another value is 400.
- Any other parameter (``_summary``, ``_foo``, a search parameter: these operations take none)
  is ignored, as R4 asks of a server by default (search.html, lenient handling), unless the
  request says ``Prefer: handling=strict``: then it is 400 naming each such parameter.

A parameter of these three given twice is 400. None of this touches a request without a query
string: its answer is the route's, untouched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request, Response

from kokuho.verify._json_body import Handler, StrictJsonRoute
from kokuho.verify._problems import FHIR_JSON, outcome

KNOWN: Final = ("_format", "_elements", "_pretty")
_JSON: Final = frozenset({"json", "application/json", "application/fhir+json"})
_JSON_RANGES: Final = frozenset(
    {"application/json", "application/fhir+json", "application/*", "*/*"}
)
_MAX_ACCEPT: Final = 2000
_ELEMENT: Final = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
_MAX_ELEMENTS: Final = 64
_MAX_ELEMENTS_TEXT: Final = 1000
#: The R4 elements of minimum cardinality 1 of the resources this face answers.
MANDATORY: Final[dict[str, frozenset[str]]] = {
    "CapabilityStatement": frozenset({"status", "date", "kind", "fhirVersion", "format"}),
    "Coverage": frozenset({"status", "beneficiary", "payor"}),
    "CoverageEligibilityResponse": frozenset(
        {"status", "purpose", "patient", "created", "request", "outcome", "insurer"}
    ),
    "Patient": frozenset(),
}
SUBSETTED: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
#: The OpenAPI description of the parameters (each FHIR operation lists them).
OPENAPI_PARAMETERS: Final[list[dict[str, Any]]] = [
    {"name": "_format", "in": "query", "required": False,
     "description": "json, application/json or application/fhir+json; any other format is 406",
     "schema": {"type": "string", "enum": sorted(_JSON)}},
    {"name": "_elements", "in": "query", "required": False,
     "description": "top-level elements to return (with the mandatory ones), tagged SUBSETTED",
     "schema": {"type": "string", "maxLength": _MAX_ELEMENTS_TEXT,
                "pattern": r"^[A-Za-z][A-Za-z0-9]{0,63}(,[A-Za-z][A-Za-z0-9]{0,63}){0,63}$"}},
    {"name": "_pretty", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["true", "false"]}},
]  # fmt: skip


@dataclass(frozen=True)
class FhirParams:
    elements: frozenset[str] | None = None
    pretty: bool = False

    def apply(self, response: Response) -> Response:
        """The route's answer as the parameters ask (a successful resource only)."""
        body = getattr(response, "body", None)
        if response.status_code != 200 or not isinstance(body, bytes) or self == _PLAIN:
            return response
        resource = json.loads(body)
        if not isinstance(resource, dict) or resource.get("resourceType") == "OperationOutcome":
            return response
        if self.elements is not None:
            resource = subset(resource, self.elements)
        text = json.dumps(resource, ensure_ascii=False, allow_nan=False,
                          indent=2 if self.pretty else None,
                          separators=(",", ": ") if self.pretty else (",", ":"))  # fmt: skip
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in ("content-length", "content-type")}  # fmt: skip
        return Response(text.encode(), status_code=200, headers=headers, media_type=FHIR_JSON)


_PLAIN: Final = FhirParams()


def subset(resource: dict[str, Any], elements: frozenset[str]) -> dict[str, Any]:
    """``resource`` with only ``elements``, its mandatory ones, ``id`` and ``meta`` (tagged
    SUBSETTED), and the contained resources the kept elements reference."""
    kind = str(resource.get("resourceType", ""))
    keep = elements | MANDATORY.get(kind, frozenset()) | {"resourceType", "id"}
    kept = {k: v for k, v in resource.items() if k in keep and k not in ("meta", "contained")}
    contained = resource.get("contained")
    if isinstance(contained, list) and contained:
        wanted = set(_local_references(kept))
        if "contained" in elements:
            kept["contained"] = contained
        elif wanted:
            kept["contained"] = [c for c in contained if isinstance(c, dict)
                                 and c.get("id") in wanted]  # fmt: skip
    meta = dict(resource.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    ordered = {k: v for k, v in kept.items() if k in ("resourceType", "id")}
    return {**ordered, "meta": meta, **{k: v for k, v in kept.items() if k not in ordered}}


def _local_references(node: object) -> Iterator[str]:
    """The ids of contained resources referenced (``"reference": "#id"``) inside ``node``."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            reference = item.get("reference")
            if isinstance(reference, str) and reference.startswith("#"):
                yield reference[1:]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class ParamError(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        self.status, self.name = status, name
        super().__init__(message)

    def response(self) -> Response:
        return outcome(self.status, str(self), f"http.{self.name}")


def read_params(request: Request) -> FhirParams:
    """The request's parameters; :class:`ParamError` for one the server cannot honour."""
    query = request.query_params
    for name in KNOWN:
        if len(query.getlist(name)) > 1:
            raise ParamError(400, name, f"{name} is given more than once")
    unknown = sorted({name for name in query if name not in KNOWN})
    if unknown and _strict(request):
        raise ParamError(400, unknown[0], "unknown or unsupported parameters (Prefer: "
                         f"handling=strict): {', '.join(unknown)}")  # fmt: skip
    if "_format" not in query:
        check_accept(request)
    else:
        value = query["_format"].split(";")[0].strip().lower().replace(" ", "+")
        if value not in _JSON:
            raise ParamError(406, "_format", f"_format {query['_format'][:60]!r} is not "
                             "supported: this server answers JSON only (_format json, "
                             "application/fhir+json or application/json)")  # fmt: skip
    elements = None
    if "_elements" in query:
        text = query["_elements"]
        names = [name.strip() for name in text.split(",")]
        if (
            len(text) > _MAX_ELEMENTS_TEXT
            or len(names) > _MAX_ELEMENTS
            or not all(_ELEMENT.fullmatch(n) for n in names)
        ):
            raise ParamError(400, "_elements", "_elements is a comma-separated list of "
                             f"top-level element names (at most {_MAX_ELEMENTS} of 1–64 "
                             f"characters, {_MAX_ELEMENTS_TEXT} in all)")  # fmt: skip
        elements = frozenset(names)
    pretty = False
    if "_pretty" in query:
        if query["_pretty"] not in ("true", "false"):
            raise ParamError(400, "_pretty", "_pretty is true or false")
        pretty = query["_pretty"] == "true"
    return FhirParams(elements, pretty)


def check_accept(request: Request) -> None:
    """:class:`ParamError` 406 when the ``Accept`` header admits no JSON (see the module)."""
    header = ",".join(request.headers.getlist("accept"))
    if not header.strip() or _accepts_json(header[:_MAX_ACCEPT]):
        return
    raise ParamError(406, "Accept", f"Accept {header[:60]!r} admits no format this server "
                     "writes: it answers JSON only (application/fhir+json)")  # fmt: skip


def _accepts_json(header: str) -> bool:
    for media_range in header.split(","):
        media, *parameters = (part.strip().lower() for part in media_range.split(";"))
        if media.replace(" ", "") not in _JSON_RANGES:
            continue
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        if 0.0 < weight <= 1.0:
            return True
    return False


def _strict(request: Request) -> bool:
    """Whether a ``Prefer`` header asks for ``handling=strict`` (RFC 7240; several headers,
    several preferences each, spaces around ``=`` allowed)."""
    for header in request.headers.getlist("prefer"):
        for preference in re.split(r"[,;]", header):
            name, _, value = preference.partition("=")
            if name.strip().lower() == "handling" and value.strip().strip('"').lower() == "strict":
                return True
    return False


class FhirRoute(StrictJsonRoute):
    """A FHIR route: its parameters are read before the route runs (a refusal there runs
    nothing, and needs no credential), and its successful answer is shaped by them."""

    def get_route_handler(self) -> Handler:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            if not request.scope.get("query_string"):
                try:
                    check_accept(request)
                except ParamError as error:
                    return error.response()
                return await inner(request)
            try:
                params = read_params(request)
            except ParamError as error:
                return error.response()
            return params.apply(await inner(request))

        return handler
