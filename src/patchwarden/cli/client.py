"""The console's REST API as the command line uses it (httpx, API token)."""

from __future__ import annotations

from typing import Any

import httpx

from patchwarden.core.errors import PatchwardenError

MAX_PAGE = 500
"""The API's largest page."""


class ConsoleRequestError(PatchwardenError):
    """The console could not be reached, refused the request or gave no records answer."""


class ConsoleClient:
    """An API-token session with one console."""

    def __init__(self, server: str, token: str, timeout: float = 30.0) -> None:
        self.server = server
        self.base = server.rstrip("/")
        self._http = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {token}"})

    def __enter__(self) -> ConsoleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def get(self, path: str, what: str = "JSON", **params: Any) -> Any:
        """GET `path` with `params`; the JSON answer, or ConsoleRequestError (saying the
        server did not answer with `what` when the answer is no JSON)."""
        return self._request("GET", path, what, params=params)

    def post(self, path: str, body: Any) -> Any:
        """POST `body` as JSON to `path`; the JSON answer, or ConsoleRequestError."""
        return self._request("POST", path, "JSON", json=body)

    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        try:
            reply = self._http.request(method, self.base + path, **kwargs)
        except httpx.HTTPError as exc:
            raise ConsoleRequestError(f"cannot reach the console at {self.server}: {exc}") from None
        if reply.status_code != 200:
            raise ConsoleRequestError(
                f"console answered HTTP {reply.status_code}: {_detail(reply)}"
            )
        try:
            return reply.json()
        except ValueError:
            raise self._not_console(path, what) from None

    def records(
        self, filters: dict[str, str], limit: int, page_size: int = MAX_PAGE
    ) -> tuple[list[dict[str, Any]], int]:
        """Up to `limit` records matching `filters`, most urgent first, and how many match;
        fetched `page_size` records per request."""
        items: list[dict[str, Any]] = []
        total, page = 0, 1
        while len(items) < limit:
            per_page = min(page_size, limit - len(items))
            path = "/api/v1/records"
            body = self.get(path, "records", **filters, page=page, per_page=per_page)
            try:
                total, page_items = int(body["total"]), list(body["items"])
            except (TypeError, KeyError, ValueError):
                raise self._not_console(path, "records") from None
            items += page_items
            if len(page_items) < per_page:
                break
            page += 1
        return items[:limit], total

    def _not_console(self, path: str, what: str) -> ConsoleRequestError:
        return ConsoleRequestError(
            f"{self.base + path} did not answer with {what}: "
            f"is {self.server} a patchwarden console?"
        )


def _detail(reply: httpx.Response) -> str:
    try:
        return str(reply.json().get("detail"))
    except ValueError:
        return reply.text[:200]
