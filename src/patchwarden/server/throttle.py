"""Failed-authentication throttling at the HTTP edge; the counting is `services.throttle`.

`guard` is a dependency of every API router (agent API, enrolment, REST API), so it runs
before the route and before authentication. It refuses a request whose client address or
credential is locked out (TooManyRequests: 429 with Retry-After), and when the request ends
in an AuthError (401) it counts one failure against both. Successful requests cost a few
dictionary lookups and are never delayed.

Subjects, kept apart per area (an agent failing on the console's own host does not lock its
admin out of the REST API): the client address, and the credential presented — the host id
of `Authorization: Agent <host id>:<secret>`, a digest of a Bearer API token, a digest of an
enrolment token. The client address is the socket peer; `X-Forwarded-For` counts only when
the peer is one of `ServerConfig.trusted_proxies`.

The counters live in this process (each console replica keeps its own; see
`services.throttle`).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator, Sequence
from typing import Union

from fastapi import Depends, Request

from patchwarden.protocol import v1
from patchwarden.server.config import ServerConfig
from patchwarden.services import tokens
from patchwarden.services.errors import AuthError
from patchwarden.services.throttle import FailureThrottle, Subject, SubjectKind

ENROL_BODY_LIMIT = 64 * 1024
"""Enrolment bodies up to this size (by Content-Length) are read for their token."""

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class TrustedProxies:
    """Which peers may name the client in `X-Forwarded-For`."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.networks: list[Network] = [ipaddress.ip_network(e, strict=False) for e in entries]

    def trusts(self, address: str) -> bool:
        """Whether `address` is one of the trusted proxies."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client(self, peer: str, forwarded: str) -> str:
        """The client of a request from `peer` carrying `X-Forwarded-For: forwarded`: the
        nearest hop that is not a trusted proxy (hops further left are the client's to forge)."""
        if not self.networks or not forwarded or not self.trusts(peer):
            return peer
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer


class AuthThrottle:
    """The console's failure counters, its clock and its proxy rules."""

    def __init__(self, config: ServerConfig) -> None:
        self.counter = FailureThrottle(config.throttle)
        self.clock = config.clock
        self.proxies = TrustedProxies(config.trusted_proxies)
        self.enabled = config.throttle.per_address > 0 or config.throttle.per_credential > 0

    def now(self) -> float:
        """Seconds on the console's clock."""
        return self.clock.now().timestamp()

    def client(self, request: Request) -> str:
        """The client address of a request."""
        peer = request.client.host if request.client else ""
        return self.proxies.client(peer, request.headers.get("x-forwarded-for", ""))

    async def subjects(self, request: Request) -> tuple[Subject, ...]:
        """What a request's failures count against."""
        path = request.scope["path"]  # request.url would build a URL object
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        value = value.strip()
        if path == v1.ENROL:
            area, credential = "enrol", await _enrolment_token(request)
        elif path.startswith(v1.PREFIX + "/"):
            area = "agent"
            credential = value.partition(":")[0][:64] if scheme == v1.AUTH_SCHEME else ""
        else:
            area = "api"
            credential = tokens.digest(value) if scheme.lower() == "bearer" and value else ""
        found = [Subject(SubjectKind.ADDRESS, f"{area}:{self.client(request)}")]
        if credential:
            found.append(Subject(SubjectKind.CREDENTIAL, f"{area}:{credential}"))
        return tuple(found)


async def _enrolment_token(request: Request) -> str:
    """A digest of the enrolment token in the body ("" when there is none to read cheaply).

    Only bodies that announce a small length are read here: the route reads (and caps) the
    body anyway, and Starlette keeps it for the route once read.
    """
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > ENROL_BODY_LIMIT:
        return ""
    try:
        token = json.loads(await request.body()).get("token")
        # A lone surrogate (JSON "\ud800") does not encode: UnicodeEncodeError, a ValueError.
        return tokens.digest(token) if isinstance(token, str) and token else ""
    except (ValueError, AttributeError, RecursionError):
        return ""  # not a JSON object with a usable token: the route refuses it


async def guard(request: Request) -> AsyncIterator[None]:
    """Refuse locked-out clients and credentials; count the request's AuthError, if any."""
    throttle: AuthThrottle = request.app.state.throttle
    if not throttle.enabled:
        yield
        return
    subjects = await throttle.subjects(request)
    throttle.counter.check(subjects, throttle.now())
    try:
        yield
    except AuthError:
        throttle.counter.failed(subjects, throttle.now())
        raise


ThrottleDep = Depends(guard)
"""The dependency every API router is included with (`app.create_app`)."""
