"""The baseline for bench_checks.py: the service's server stack answering a constant.

    uvicorn constant_app:create_app --factory --app-dir benchmarks [same flags as the service]

Same stack as ``kokuho.web:create_app`` (uvicorn, FastAPI, pydantic), and the same route path
as the service's two check routes (``verify.add_check_routes``): POST /api/v1/checks/number and
/api/v1/checks/card are routes of the service's own route class (``_rest_fast.fast_route``),
so a request is matched, its body read by ``json.loads`` and validated by the very same body
models (``NumberCheck``, ``CardCheck``, imported so they can never drift), its ``Bearer``
credential taken from the header, all on the event loop, and the answer, a constant dict of
the size and shape of a real 有効 answer, written by the service's own response class. Only
the service's work is left out: the credential is accepted without a look-up, and there is no
register, no audit. That is the stack's ceiling for this request.

Until 2026-12-07 10:40 UTC the baseline was two plain synchronous FastAPI handlers, run in the
thread pool through FastAPI's generic dependency and body machinery, while the service's
check routes had long since moved to the event loop and to the fast route class. The
baseline paid costs the service no longer paid, so the ceiling was understated and every
ratio to it overstated. In process (``bench_check_path``'s driver, 6,000 number checks, 16 at
a time): synchronous handlers 0.199 ms of CPU a request, async FastAPI handlers 0.096, this
route class 0.047 (docs/benchmarks-history.md, the eighth set).

    uvicorn constant_app:create_db_app --factory --app-dir benchmarks

The second baseline, for PostgreSQL: the same constant answer after one round trip to the
service's database (``SELECT 1`` on ``KOKUHO_DATABASE_URL``), made on the event loop over a
pool of psycopg async connections as the service's reads are. A check must read the register
at least once, so no check on that database can beat it; on a machine whose cores the
database server shares, the gap between the two baselines is what the database itself costs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from fastapi import FastAPI, Request, Response

# The private modules on purpose: the baseline must take the service's very route path.
from kokuho.verify._access import Principal
from kokuho.verify._rest import CardCheck, NumberCheck, _AnswerResponse
from kokuho.verify._rest_fast import fast_route
from kokuho.web._app import TELEMETRY_OFF

_COVERAGE = {
    "insurer_number": "06370019", "symbol": "12345", "number": "1234567", "branch": "01",
    "insurer_name": "06370019", "card_class": "01", "relationship": 1,
    "name_kanji": "姓1234567", "name_kana": "セイ1234567", "sex": 2, "birth_date": "1961-07-14",
    "acquired_on": "2020-04-01", "lost_on": None, "loss_reason": None, "copay_percent": 30,
    "elderly_copay_percent": None, "specific_disease": None, "limit_category": None,
    "reference_number": None,
}  # fmt: skip
ANSWER: dict[str, Any] = {
    "validity": 1,
    "validity_label": "有効",
    "date_of_care": "2026-01-01",
    "results": [_COVERAGE],
    "consents": {},
    "patient": "0" * 32,
}


_ANYONE = Principal(credential_id="constant", kind="institution",
                    institution_code="0000000000", insurer_number=None)  # fmt: skip


def _anyone(token: str | None) -> Principal:
    """The baseline's authenticator: every credential is accepted, without a look-up."""
    return _ANYONE


def _constant_app(title: str, before: Callable[[], Awaitable[None]] | None) -> FastAPI:
    """The two check routes on the service's route class, answering :data:`ANSWER` (after
    ``before``, when given)."""
    # FastAPI's telemetry as create_app has it by default (KOKUHO_TELEMETRY unset: off).
    app = FastAPI(title=title, telemetry=TELEMETRY_OFF)
    app.state.authenticate = _anyone

    async def constant(request: Request, caller: Principal, body: Any) -> Response:
        if before is not None:
            await before()
        return _AnswerResponse(ANSWER)

    # FastAPI's own handlers, for what the route class hands over (no credential, a body
    # that does not validate): the same refusals as the service's, never taken in a run.
    async def check_number(body: NumberCheck) -> dict[str, Any]:
        return ANSWER

    async def check_card(body: CardCheck) -> dict[str, Any]:
        return ANSWER

    for path, model, endpoint in (
        ("/api/v1/checks/number", NumberCheck, check_number),
        ("/api/v1/checks/card", CardCheck, check_card),
    ):
        app.router.add_api_route(
            path, endpoint, methods=["POST"], response_model=None,
            route_class_override=fast_route(model, constant),
        )  # fmt: skip

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_app() -> FastAPI:
    return _constant_app("kokuho constant baseline", None)


class _RoundTrips:
    """Up to ``size`` async connections of this worker's loop, opened as the load needs them."""

    def __init__(self, url: str, size: int = 16) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        self.opened = 0
        self.size = size

    async def select_one(self) -> None:
        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            connection = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        else:
            connection = await self.idle.get()
        try:
            await connection.execute("SELECT 1")
        finally:
            self.idle.put_nowait(connection)


def create_db_app() -> FastAPI:
    trips = _RoundTrips(os.environ["KOKUHO_DATABASE_URL"])
    return _constant_app("kokuho constant baseline with one database round trip", trips.select_one)
