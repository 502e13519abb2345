"""FastAPI app factory: the composition root of the console (STYLE A4)."""

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
from patchwarden.server.routes import actions, agent, catalogue, hosts, records, settings
from patchwarden.services import console_settings
from patchwarden.services.errors import AuthError, Refused
from patchwarden.services.feeds import sync_sources
from patchwarden.services.index import CachedIndex
from patchwarden.services.scheduler import tick
from patchwarden.storage import repositories as repo
from patchwarden.storage.advisory_store import AdvisoryStore
from patchwarden.storage.db import make_engine, transaction
from patchwarden.storage.migrate import upgrade

log = logging.getLogger(__name__)


def _status_of(exc: PatchwardenError) -> int:
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, Refused):
        return exc.status
    if isinstance(exc, IllegalTransition):
        return 409
    if isinstance(exc, InputError):
        return 422
    return 400


def _scheduler_loop(app: FastAPI, stop: threading.Event) -> None:
    config: ServerConfig = app.state.config
    last_sync = float("-inf")
    while not stop.wait(config.tick_seconds):
        try:
            tick(app.state.engine, config.clock.now(), app.state.holder, app.state.lease_ttl)
            with transaction(app.state.engine, write=False) as conn:
                current = console_settings.load(repo.get_settings(conn))
            hours = current.feed_sync_hours
            # Each replica syncs its own advisory store file (like trivy-db), so this needs
            # no lease: replicas never write each other's store.
            if hours > 0 and time.monotonic() - last_sync >= hours * 3600:
                last_sync = time.monotonic()
                for line in sync_sources(config.data_dir, current.feed_sources, {}):
                    log.info("feed sync: %s", line)
                app.state.index = CachedIndex(app.state.store)
        except Exception:  # a failed round must not kill the scheduler thread
            log.exception("scheduler round failed")


def create_app(config: ServerConfig) -> FastAPI:
    """Build the console app for `config`; migrations run at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade(config.database_url)
        app.state.engine = make_engine(config.database_url)
        app.state.store = AdvisoryStore.in_dir(config.data_dir)
        app.state.index = CachedIndex(app.state.store)
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
            app.state.engine.dispose()

    app = FastAPI(
        title="patchwarden console",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.config = config

    @app.exception_handler(PatchwardenError)
    async def domain_error(request: Request, exc: PatchwardenError) -> JSONResponse:
        detail = exc.why if isinstance(exc, IllegalTransition) else str(exc)
        return JSONResponse({"detail": detail}, status_code=_status_of(exc))

    for router in (agent, hosts, records, actions, settings, catalogue):
        app.include_router(router.router)

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        """Liveness probe."""
        return {"status": "ok", "version": __version__}

    return app
