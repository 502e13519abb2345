"""Server configuration, built once in the composition root and passed down (STYLE A4)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from patchwarden.core.clock import Clock, OffsetClock
from patchwarden.services.throttle import ThrottlePolicy
from patchwarden.storage.db import database_url

ENV_CLOCK_OFFSET_FILE = "PATCHWARDEN_CLOCK_OFFSET_FILE"


@dataclass(frozen=True)
class ServerConfig:
    """How one console process runs."""

    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8080
    scheduler: bool = True
    """Run the periodic sweeps in this process (they take a DB lease, so replicas may all
    run it: one does the work at a time)."""
    tick_seconds: float = 30.0
    """How often the scheduler wakes up."""
    clock: Clock = field(default_factory=Clock)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    """Failed authentications allowed per client address and per credential, and the
    lock-outs after them (agent API, enrolment and REST API)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks of reverse proxies whose X-Forwarded-For names the client; the
    header of anyone else is ignored (it is trivially forged)."""

    @classmethod
    def from_env(cls, data_dir: Path, **overrides: object) -> ServerConfig:
        """Defaults plus `PATCHWARDEN_DATABASE_URL` / `PATCHWARDEN_CLOCK_OFFSET_FILE`."""
        clock: Clock = Clock()
        offset_file = os.environ.get(ENV_CLOCK_OFFSET_FILE)
        if offset_file:
            clock = OffsetClock(Path(offset_file))
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": database_url(data_dir),
            "clock": clock,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
