"""The baseline for bench_checks.py: the service's server stack answering a constant.

    uvicorn constant_app:create_app --factory --app-dir benchmarks [same flags as the service]

Same stack as ``kokuho.web:create_app`` (uvicorn, FastAPI, pydantic): the two check routes
POST /api/v1/checks/number and /api/v1/checks/card parse the very same body models
(``NumberCheck``, ``CardCheck``, imported from the REST face so they can never drift), take the
Authorization header, run as synchronous handlers in the thread pool as the real ones do, and
return a constant dict of the size and shape of a real 有効 answer through the same
``dict[str, Any]`` response path. No database, no authentication, no audit: the stack's ceiling.

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
from typing import Annotated, Any

import psycopg
from fastapi import FastAPI, Header

# The private module on purpose: the baseline must parse exactly what the service parses.
from kokuho.verify._rest import CardCheck, NumberCheck

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


def create_app() -> FastAPI:
    app = FastAPI(title="kokuho constant baseline")

    @app.post("/api/v1/checks/number")
    def check_number(
        body: NumberCheck, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        return ANSWER

    @app.post("/api/v1/checks/card")
    def check_card(
        body: CardCheck, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        return ANSWER

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


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
    app = FastAPI(title="kokuho constant baseline with one database round trip")
    trips = _RoundTrips(os.environ["KOKUHO_DATABASE_URL"])

    @app.post("/api/v1/checks/number")
    async def check_number(
        body: NumberCheck, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        await trips.select_one()
        return ANSWER

    @app.post("/api/v1/checks/card")
    async def check_card(
        body: CardCheck, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        await trips.select_one()
        return ANSWER

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
