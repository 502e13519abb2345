"""Repositories: SQL for hosts, tokens, settings (rows <-> plain values, STYLE A5).

Functions take a SQLAlchemy `Connection` that is already inside a transaction; the caller
(a unit of work in `services`) decides when to commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from patchwarden.storage.tables import api_tokens, enrolment_tokens, hosts, settings, users

# -- users and API tokens ---------------------------------------------------------------------


def ensure_user(conn: Connection, name: str, now: datetime) -> int:
    """The id of user `name`; the first user ever created becomes the owner."""
    row = conn.execute(select(users.c.id).where(users.c.name == name)).first()
    if row:
        return int(row.id)
    first = conn.execute(select(func.count()).select_from(users)).scalar_one() == 0
    return int(
        conn.execute(
            insert(users).values(name=name, role="owner" if first else "admin", created_at=now)
        ).inserted_primary_key[0]
    )


def add_api_token(conn: Connection, user_id: int, token_hash: str, now: datetime) -> None:
    """Store an API token digest for a user."""
    conn.execute(insert(api_tokens).values(user_id=user_id, token_hash=token_hash, created_at=now))


def user_by_token(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    """The user owning an API token digest, with the token's id and last use."""
    row = conn.execute(
        select(
            users.c.id,
            users.c.name,
            users.c.role,
            api_tokens.c.id.label("token_id"),
            api_tokens.c.last_used_at,
        )
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.token_hash == token_hash)
    ).first()
    if row is None:
        return None
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "token_id": row.token_id,
        "token_used_at": _aware(row.last_used_at) if row.last_used_at else None,
    }


def mark_token_used(conn: Connection, token_id: int, now: datetime) -> None:
    """Store when an API token was last used."""
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))


# -- enrolment ----------------------------------------------------------------------------------


def add_enrolment_token(conn: Connection, token_hash: str, now: datetime, ttl: timedelta) -> None:
    """Store a one-time enrolment token digest."""
    conn.execute(
        insert(enrolment_tokens).values(token_hash=token_hash, created_at=now, expires_at=now + ttl)
    )


def use_enrolment_token(conn: Connection, token_hash: str, host_id: str, now: datetime) -> str:
    """Consume a token; returns "" on success, else why it cannot be used."""
    row = conn.execute(
        select(enrolment_tokens).where(enrolment_tokens.c.token_hash == token_hash)
    ).first()
    if row is None:
        return "unknown enrolment token"
    if row.used_at is not None:
        return "enrolment token already used"
    if _aware(row.expires_at) <= now:
        return "enrolment token expired"
    # Conditional update: two agents racing with one token cannot both win.
    done = conn.execute(
        update(enrolment_tokens)
        .where(enrolment_tokens.c.id == row.id, enrolment_tokens.c.used_at.is_(None))
        .values(used_at=now, host_id=host_id)
    ).rowcount
    return "" if done == 1 else "enrolment token already used"


# -- hosts ----------------------------------------------------------------------------------


def add_host(
    conn: Connection,
    host_id: str,
    hostname: str,
    machine_id: str,
    secret_hash: str,
    agent_version: str,
    now: datetime,
) -> None:
    """Register an enrolled agent's host."""
    conn.execute(
        insert(hosts).values(
            id=host_id,
            hostname=hostname,
            machine_id=machine_id,
            secret_hash=secret_hash,
            agent_version=agent_version,
            enrolled_at=now,
            last_seen_at=now,
            os={},
            kernel={},
            collector_errors=[],
            packages=0,
        )
    )


def get_host(conn: Connection, host_id: str) -> dict[str, Any] | None:
    """One host row as a dict."""
    row = conn.execute(select(hosts).where(hosts.c.id == host_id)).mappings().first()
    return _host_dict(row) if row else None


def touch_host(conn: Connection, host_id: str, now: datetime) -> None:
    """Record that the agent was heard from."""
    conn.execute(update(hosts).where(hosts.c.id == host_id).values(last_seen_at=now))


def lock_host(conn: Connection, host_id: str) -> None:
    """Hold the host's row until the transaction ends, ordering its concurrent writers.

    PostgreSQL: `SELECT … FOR UPDATE`. SQLite has no row locks and needs none here: write
    transactions start with BEGIN IMMEDIATE and so already run one at a time.
    """
    conn.execute(select(hosts.c.id).where(hosts.c.id == host_id).with_for_update())


def update_host_facts(conn: Connection, host_id: str, values: dict[str, Any]) -> None:
    """Store what the latest inventory says about the host."""
    conn.execute(update(hosts).where(hosts.c.id == host_id).values(**values))


def list_hosts(conn: Connection) -> list[dict[str, Any]]:
    """Every host, by hostname."""
    rows = conn.execute(select(hosts).order_by(hosts.c.hostname, hosts.c.id)).mappings()
    return [_host_dict(r) for r in rows]


def hosts_last_seen(conn: Connection) -> dict[str, datetime | None]:
    """host id -> last time its agent was heard from."""
    return {
        r.id: _aware(r.last_seen_at) if r.last_seen_at else None
        for r in conn.execute(select(hosts.c.id, hosts.c.last_seen_at))
    }


def _host_dict(row: Any) -> dict[str, Any]:
    d = dict(row)
    d.pop("secret_hash", None)
    for key in ("enrolled_at", "last_seen_at", "last_inventory_at"):
        if d.get(key) is not None:
            d[key] = _aware(d[key])
    return d


def host_secret_hash(conn: Connection, host_id: str) -> str | None:
    """The stored digest of a host's agent secret."""
    return conn.execute(select(hosts.c.secret_hash).where(hosts.c.id == host_id)).scalar()


# -- settings -------------------------------------------------------------------------------


def get_settings(conn: Connection) -> dict[str, Any]:
    """Every stored setting."""
    return {r.key: r.value for r in conn.execute(select(settings))}


def put_settings(conn: Connection, values: dict[str, Any]) -> None:
    """Upsert settings one key at a time."""
    for key, value in values.items():
        done = conn.execute(
            update(settings).where(settings.c.key == key).values(value=value)
        ).rowcount
        if not done:
            conn.execute(insert(settings).values(key=key, value=value))


def _aware(ts: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)
