"""The baseline for bench_checks.py: the service's server stack answering a constant.

    uvicorn constant_app:create_app --factory --app-dir benchmarks [same flags as the service]

Same stack as ``kokuho.web:create_app`` (uvicorn, FastAPI, pydantic): the two check routes
POST /api/v1/checks/number and /api/v1/checks/card parse the very same body models
(``NumberCheck``, ``CardCheck``, imported from the REST face so they can never drift), take the
Authorization header, run as synchronous handlers in the thread pool as the real ones do, and
return a constant dict of the size and shape of a real 有効 answer through the same
``dict[str, Any]`` response path. No database, no authentication, no audit: the stack's ceiling.
"""

from __future__ import annotations

from typing import Annotated, Any

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
