"""The web console: server-rendered pages (Jinja2, a little htmx, the package's own CSS) on
the same services as the REST API. `add_console` mounts its pages and forms on the app."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from patchwarden.core.errors import PatchwardenError
from patchwarden.server.console import forms, pages
from patchwarden.server.console.web import console_secret


def add_console(app: FastAPI, status_of: Callable[[PatchwardenError], int]) -> None:
    """Mount the console's pages and forms; domain errors answer with `status_of`'s code,
    sessions are signed with the data dir's key."""
    app.state.status_of = status_of
    app.state.console_secret = console_secret(app.state.config.data_dir)
    app.include_router(pages.router)
    app.include_router(forms.router)
