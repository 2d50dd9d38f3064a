"""App assembly. No business rules here: every route belongs to a context's face."""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kokuho import __version__
from kokuho.checkups import CheckupRecords, Lake
from kokuho.claims import ClaimsLake, MedicationRecords
from kokuho.config import Settings
from kokuho.store import ReadRouter, connect
from kokuho.verify import (
    Authenticator,
    CardDesk,
    ConsentCategory,
    EligibilityService,
    RefusalRecorder,
    add_check_routes,
    build_fhir_router,
    build_router,
    install_error_handlers,
)
from kokuho.web._gc import tuned_gc
from kokuho.web._head import HeadAsGet
from kokuho.web._headers import headers_for
from kokuho.web.dashboard import ErrorPages, install_dashboard


class SecurityHeaders:
    """Adds the security headers (``_headers``) to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(pair for pair in wanted if pair[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: In the instance's home: held by the one server process of a node that warms the dashboard.
WARM_UP_LOCK = "dashboard-warm-up.lock"


def claim_warm_up(home: Path) -> int | None:
    """The dashboard warm-up's lock, if no other process holds it: an open descriptor holding
    a non-blocking ``flock`` on ``home/WARM_UP_LOCK``, or None. The first of a node's uvicorn
    workers takes it and computes the start-up figures; the others skip them, which would
    only repeat the same seconds of CPU per process. The kernel drops the lock when its
    holder exits (``kill -9`` included), so a restarted worker can take it again."""
    home.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(home / WARM_UP_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


#: FastAPI's ``telemetry`` when ``KOKUHO_TELEMETRY`` is off (the default): without it FastAPI
#: asks the OpenTelemetry API for the global tracer, meter and logger providers on every
#: request (about 7 µs), though kokuho ships no SDK that could configure them.
TELEMETRY_OFF: Final[TelemetryConfig] = {"tracing": False, "metrics": False, "logs": False}


class _App(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's own error middleware, so even its 500 page carries the headers;
        # HEAD outermost, so that no answer, not even that page, sends a body to a HEAD.
        return HeadAsGet(SecurityHeaders(super().build_middleware_stack()))


def create_app(settings: Settings | None = None) -> FastAPI:
    """Builds the app on the configured database (``uvicorn --factory kokuho.web:create_app``)."""
    settings = settings or Settings.from_env()
    engine = (
        # A primary that is gone must fail a connect in seconds, not in the TCP timeout's
        # minutes: checks then carry on from the replicas.
        connect(
            settings.database_url, pool_size=8, max_overflow=8, connect_args={"connect_timeout": 3}
        )  # fmt: skip
        if settings.database_url.startswith("postgresql")
        else connect(settings.database_url)
    )
    reads = ReadRouter.from_urls(
        engine, settings.read_database_urls, max_lag=settings.replica_max_lag
    )
    # While the primary is down, checks go on from the replicas and their audit records wait
    # in a durable local spool (docs/operations.md, failure modes).
    spool = (
        (settings.audit_spool or settings.home / "audit-spool")
        if settings.read_database_urls
        else None
    )
    service = EligibilityService(engine, settings.service_key(), reads=reads, audit_spool=spool)
    ca_folder = settings.home / "ca"
    if (ca_folder / "ca_cert.pem").exists():
        # Card checks need the (simulated) JPKI authority's certificate and CRL.
        service.cards = CardDesk(engine, settings.service_key(), ca_folder, reads=reads)
    # 特定健診情報, shown within consent, comes from the checkup lake.
    service.providers[ConsentCategory.CHECKUP] = CheckupRecords(
        engine, Lake.from_settings(settings)
    )
    # 薬剤情報, shown within consent, comes from the claims lake (3 years of drugs).
    service.providers[ConsentCategory.MEDICATION] = MedicationRecords(
        engine, ClaimsLake.from_settings(settings)
    )
    # A refused authentication of an issued credential is audited, at most once a minute per
    # credential and reason; one naming none goes to the server log (verify/_access_refusals).
    refusals = RefusalRecorder(service.audit)
    authenticator = Authenticator(engine, reads=reads, refusals=refusals)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One warm-up a node: the lock is kept until shutdown, not just through the warm-up,
        # so that a worker started later (a restarted one) does not repeat it either.
        lock = claim_warm_up(settings.home) if settings.dashboard_warm_up else None
        if lock is not None:
            dashboard.warm_up()
        # Last, once what the process keeps for its life is built (docs/operations.md).
        with tuned_gc(settings.gc_thresholds, freeze=settings.gc_freeze):
            yield
        if lock is not None:
            os.close(lock)
        dashboard.close()
        refusals.close()  # its last counts, before the audit writer stops
        service.close()
        reads.close()
        engine.dispose()

    app = _App(
        title="kokuho",
        version=__version__,
        description="オンライン資格確認 and the shared eligibility register. Every call is "
        "authenticated, states its purpose (告知要求制限) and is written to the audit log. "
        "Errors are RFC 9457 problem documents on /api/v1 and OperationOutcome on /fhir.",
        lifespan=lifespan,
        telemetry=None if settings.telemetry else TELEMETRY_OFF,
    )
    app.state.service = service
    app.state.engine = engine
    app.state.authenticate = authenticator.authenticate
    # The two check routes, most of the traffic, on the app's own router ahead of the included
    # ones: a request to an included router's route is matched twice (by the app's router, then
    # by the included one) and dispatched through three routers, which cost about a tenth of a
    # check's CPU. Their OpenAPI entries and answers are the same either way.
    add_check_routes(app.router, prefix="/api/v1")
    app.include_router(build_router(checks=False))
    app.include_router(build_fhir_router())
    # The dashboard's own Japanese pages for a missing path or a wrong method elsewhere.
    install_error_handlers(app, ErrorPages())
    # The 見える化 dashboard under / (its figures are computed in the background).
    dashboard = install_dashboard(app, engine, settings.home, service.audit, warm_up=False)

    return app
