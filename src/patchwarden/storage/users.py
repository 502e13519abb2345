"""Users, API tokens and enrolment tokens (digests only, never the secrets)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import Connection, func, insert, select, update

from patchwarden.services.ports import TokenOwner, User
from patchwarden.storage.tables import api_tokens, enrolment_tokens, users


class SqlUserRepository:
    """`services.ports.UserRepository` over `users` and `api_tokens`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ensure(self, name: str, now: datetime) -> int:
        """The id of user `name`; the first user ever created becomes the owner."""
        row = self.conn.execute(select(users.c.id).where(users.c.name == name)).first()
        if row:
            return int(row.id)
        first = self.conn.execute(select(func.count()).select_from(users)).scalar_one() == 0
        role = "owner" if first else "admin"
        stmt = insert(users).values(name=name, role=role, created_at=now).returning(users.c.id)
        return int(self.conn.execute(stmt).scalar_one())

    def add_api_token(self, user_id: int, token_hash: str, now: datetime) -> None:
        """Store an API token digest for a user."""
        self.conn.execute(
            insert(api_tokens).values(user_id=user_id, token_hash=token_hash, created_at=now)
        )

    def by_token(self, token_hash: str) -> Optional[TokenOwner]:
        """The user owning an API token digest, with the token's id and last use."""
        row = self.conn.execute(
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
        user = User(id=int(row.id), name=row.name, role=row.role)
        return TokenOwner(user, int(row.token_id), row.last_used_at)

    def mark_token_used(self, token_id: int, now: datetime) -> None:
        """Store when an API token was last used."""
        self.conn.execute(
            update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
        )


class SqlEnrolmentRepository:
    """`services.ports.EnrolmentRepository` over `enrolment_tokens`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, token_hash: str, now: datetime, ttl: timedelta) -> None:
        """Store a one-time enrolment token digest."""
        self.conn.execute(
            insert(enrolment_tokens).values(
                token_hash=token_hash, created_at=now, expires_at=now + ttl
            )
        )

    def use(self, token_hash: str, host_id: str, now: datetime) -> str:
        """Consume a token; returns "" on success, else why it cannot be used."""
        row = self.conn.execute(
            select(enrolment_tokens).where(enrolment_tokens.c.token_hash == token_hash)
        ).first()
        if row is None:
            return "unknown enrolment token"
        if row.used_at is not None:
            return "enrolment token already used"
        if row.expires_at <= now:
            return "enrolment token expired"
        # Conditional update: two agents racing with one token cannot both win.
        done = self.conn.execute(
            update(enrolment_tokens)
            .where(enrolment_tokens.c.id == row.id, enrolment_tokens.c.used_at.is_(None))
            .values(used_at=now, host_id=host_id)
        ).rowcount
        return "" if done == 1 else "enrolment token already used"
