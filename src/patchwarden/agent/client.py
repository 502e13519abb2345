"""HTTP client of the console's agent API (urllib: standard library only)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from patchwarden.protocol import v1


class ConsoleError(Exception):
    """The console refused a request or could not be reached."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retryable(self) -> bool:
        """Network trouble, 5xx, 408 and 429 are worth retrying; other 4xx are not."""
        return self.status in (0, 408, 429) or self.status >= 500

    @property
    def unauthorised(self) -> bool:
        """The console does not accept this agent's credentials (fixed by re-enrolling)."""
        return self.status in (401, 403)


def _error_detail(text: str) -> str:
    """The console's `{"detail": ...}` message, or the raw body when it is not one."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    return str(data.get("detail", text)) if isinstance(data, dict) else text


@dataclass(frozen=True)
class Polled:
    """What one jobs poll brought."""

    actions: List[v1.Action]
    rejected: List[v1.RejectedAction]
    memory_cap_mb: Optional[int] = None
    """The console's scan memory cap (0: none); None when it sent none or a bad one."""
    problem: str = ""
    """Why the console's memory cap was refused ("" when it was not)."""


class ConsoleClient:
    """Talks protocol v1 to one console."""

    def __init__(
        self,
        server: str,
        host_id: str = "",
        secret: str = "",
        timeout: float = 30.0,
        cafile: Optional[str] = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.host_id = host_id
        self.secret = secret
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=cafile) if cafile else None

    def _request(
        self,
        method: str,
        path: str,
        body: Optional[bytes] = None,
        headers: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> Dict[str, Any]:
        req = urllib.request.Request(self.server + path, data=body, method=method)
        req.add_header("Accept", "application/json")
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if self.host_id:
            req.add_header("Authorization", v1.auth_header(self.host_id, self.secret))
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(
                req, timeout=timeout or self.timeout, context=self._ssl
            ) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc.read().decode("utf-8", "replace"))
            raise ConsoleError(f"{method} {path}: HTTP {exc.code}: {detail}", exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ConsoleError(f"{method} {path}: console unreachable: {exc}") from None
        try:
            data = json.loads(payload or b"{}")
        except ValueError as exc:
            raise ConsoleError(f"{method} {path}: console sent invalid JSON: {exc}", 502) from None
        if not isinstance(data, dict):
            raise ConsoleError(f"{method} {path}: console sent a non-object", 502)
        return data

    def enrol(
        self, token: str, hostname: str, machine_id: str, agent_version: str
    ) -> Dict[str, Any]:
        """Trade a one-time enrolment token for a host id and secret."""
        body = {
            "token": token,
            "hostname": hostname,
            "machine_id": machine_id,
            "agent_version": agent_version,
        }
        return self._request("POST", v1.ENROL, json.dumps(body).encode())

    def heartbeat(self) -> Dict[str, Any]:
        """Tell the console we are alive; it answers with how many jobs wait."""
        return self._request("POST", v1.HEARTBEAT, b"{}")

    def upload_inventory(self, gz_body: bytes) -> Dict[str, Any]:
        """POST a gzip-compressed inventory envelope."""
        return self._request(
            "POST",
            v1.INVENTORY,
            gz_body,
            headers={"Content-Encoding": "gzip"},
            timeout=max(self.timeout, 120.0),
        )

    def poll_jobs(self, wait: int = 0) -> List[v1.Action]:
        """Long-poll for actions (up to `wait` seconds)."""
        data = self._request("GET", f"{v1.JOBS}?wait={int(wait)}", timeout=self.timeout + wait)
        return v1.jobs_from_response(data)

    def poll(self, wait: int = 0) -> Polled:
        """Long-poll for actions: valid ones, ones that do not follow protocol v1, and the
        console's scan memory cap."""
        data = self._request("GET", f"{v1.JOBS}?wait={int(wait)}", timeout=self.timeout + wait)
        actions, rejected = v1.parse_jobs(data)
        try:
            return Polled(actions, rejected, v1.memory_cap_from_response(data))
        except v1.ProtocolError as exc:
            # A bad setting must not stop the jobs that came with it.
            return Polled(actions, rejected, None, str(exc))

    def send_result(self, result: v1.ActionResult) -> Dict[str, Any]:
        """Report what an action did."""
        path = v1.JOB_RESULT.format(job_id=result.job_id)
        return self._request("POST", path, json.dumps(result.to_dict()).encode())
