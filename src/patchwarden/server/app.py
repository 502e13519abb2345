"""FastAPI app factory: the composition root of the console (STYLE A4).

Here, and only here, the console's parts meet: the database engine and the advisory store
are opened, a unit of work is built per request, the scheduler thread is started, and the
domain errors the services raise get their HTTP status codes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from patchwarden import __version__
from patchwarden.core.errors import InputError, PatchwardenError
from patchwarden.core.records import IllegalTransition
from patchwarden.server.config import ServerConfig
from patchwarden.server.console import add_console
from patchwarden.server.docs import add_docs
from patchwarden.server.errors import challenge, error_responses
from patchwarden.server.headers import SecureHeaders
from patchwarden.server.routes import (
    actions,
    agent,
    catalogue,
    hosts,
    records,
    settings,
    snapshots,
)
from patchwarden.server.throttle import AuthThrottle, ThrottleDep
from patchwarden.services.errors import (
    AuthError,
    Conflict,
    Forbidden,
    InvalidRequest,
    MalformedRequest,
    NotFound,
    Refused,
    TooLarge,
    TooManyRequests,
)
from patchwarden.services.feeds import http_client, sync_sources
from patchwarden.services.freshness import freshness
from patchwarden.services.index import CachedIndex
from patchwarden.services.scheduler import tick
from patchwarden.services.settings import get_settings
from patchwarden.storage.advisory_store import AdvisoryStore
from patchwarden.storage.db import make_engine
from patchwarden.storage.migrate import upgrade
from patchwarden.storage.uow import SqlUnitOfWork

log = logging.getLogger(__name__)

HTTP_STATUS: tuple[tuple[type[PatchwardenError], int], ...] = (
    (AuthError, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (TooLarge, 413),
    (TooManyRequests, 429),
    (MalformedRequest, 400),
    (InvalidRequest, 422),
    (Conflict, 409),
    (Refused, 409),
    (IllegalTransition, 409),
    (InputError, 422),
)
"""Domain error -> HTTP status, first match wins; any other PatchwardenError is a 400."""


def status_of(exc: PatchwardenError) -> int:
    """The HTTP status code a domain error answers with."""
    return next((code for kind, code in HTTP_STATUS if isinstance(exc, kind)), 400)


def _scheduler_loop(app: FastAPI, stop: threading.Event) -> None:
    config: ServerConfig = app.state.config
    last_sync = float("-inf")
    while not stop.wait(config.tick_seconds):
        try:
            tick(app.state.new_uow(), config.clock, app.state.holder, app.state.lease_ttl)
            current = get_settings(app.state.new_uow())
            hours = current.feed_sync_hours
            # Each replica syncs its own advisory store file (like trivy-db), so this needs
            # no lease: replicas never write each other's store.
            if hours > 0 and time.monotonic() - last_sync >= hours * 3600:
                last_sync = time.monotonic()
                with http_client() as client:
                    lines = sync_sources(
                        app.state.store,
                        client,
                        config.data_dir / "feeds",
                        current.feed_sources,
                        {},
                        config.clock,
                    )
                for line in lines:
                    log.info("feed sync: %s", line)
                app.state.index = CachedIndex(app.state.store)
        except Exception:  # a failed round must not kill the scheduler thread
            log.exception("scheduler round failed")


def create_app(config: ServerConfig) -> FastAPI:
    """Build the console app for `config`; migrations run at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade(config.database_url)
        engine = make_engine(config.database_url)
        app.state.store = AdvisoryStore.in_dir(config.data_dir)
        for warning in freshness(app.state.store.feeds(), config.clock.now()).warnings:
            log.warning("advisory store: %s", warning)
        app.state.index = CachedIndex(app.state.store)
        # The index is read at each call: a feed sync swaps in a fresh one.
        app.state.new_uow = lambda: SqlUnitOfWork(engine, app.state.index)
        app.state.engine = engine
        app.state.holder = f"{socket.gethostname()}:{os.getpid()}"
        app.state.lease_ttl = timedelta(seconds=max(60.0, 3 * config.tick_seconds))
        stop = threading.Event()
        thread = None
        if config.scheduler:
            thread = threading.Thread(
                target=_scheduler_loop, args=(app, stop), name="scheduler", daemon=True
            )
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=10)
            app.state.store.close()
            engine.dispose()

    app = FastAPI(
        title="patchwarden console",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # served from the package's own files (server/docs.py)
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.throttle = AuthThrottle(config)

    @app.exception_handler(PatchwardenError)
    async def domain_error(request: Request, exc: PatchwardenError) -> JSONResponse:
        detail = exc.why if isinstance(exc, IllegalTransition) else str(exc)
        headers = None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        elif isinstance(exc, AuthError):
            headers = {"WWW-Authenticate": challenge(request.url.path)}
        return JSONResponse({"detail": detail}, status_code=status_of(exc), headers=headers)

    app.add_middleware(SecureHeaders)
    # Every operation documents every refusal a service may answer with.
    responses = error_responses({code for _, code in HTTP_STATUS} | {400})
    for router in (agent, hosts, records, actions, settings, catalogue, snapshots):
        # Failed authentication is throttled on every API route (server/throttle.py).
        app.include_router(router.router, dependencies=[ThrottleDep], responses=responses)
    add_docs(app)
    add_console(app, status_of)  # the web console's pages (server/console)

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        """Liveness probe."""
        return {"status": "ok", "version": __version__}

    return app
