"""Users, API tokens and enrolment tokens (digests only, never the secrets)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import Connection, delete, insert, select, update

from patchwarden.services.ports import ApiToken, Permission, Role, TokenOwner, User
from patchwarden.storage.tables import api_tokens, enrolment_tokens, users


class SqlUserRepository:
    """`services.ports.UserRepository` over `users` and `api_tokens`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, name: str) -> Optional[User]:
        """User `name`, or None."""
        row = self.conn.execute(select(*_USER).where(users.c.name == name)).first()
        return _user(row) if row else None

    def add(self, name: str, role: Role, now: datetime) -> User:
        """Create a user."""
        stmt = insert(users).values(name=name, role=role.value, created_at=now)
        user_id = self.conn.execute(stmt.returning(users.c.id)).scalar_one()
        return User(int(user_id), name, role)

    def all(self) -> list[User]:
        """Every user, by name."""
        return [_user(r) for r in self.conn.execute(select(*_USER).order_by(users.c.name))]

    def owners(self) -> list[User]:
        """The owners, row-locked on PostgreSQL (SQLite's write transaction holds the whole
        database already)."""
        stmt = select(*_USER).where(users.c.role == Role.OWNER.value).order_by(users.c.id)
        return [_user(r) for r in self.conn.execute(stmt.with_for_update())]

    def set_role(self, user_id: int, role: Role) -> None:
        """Change a user's role."""
        self.conn.execute(update(users).where(users.c.id == user_id).values(role=role.value))

    def remove(self, user_id: int) -> None:
        """Delete a user; the foreign key's ON DELETE CASCADE removes their tokens."""
        self.conn.execute(delete(users).where(users.c.id == user_id))

    def add_api_token(
        self, user_id: int, token_hash: str, now: datetime, expires_at: Optional[datetime]
    ) -> int:
        """Store an API token digest for a user; its id."""
        stmt = insert(api_tokens).values(
            user_id=user_id, token_hash=token_hash, created_at=now, expires_at=expires_at
        )
        return int(self.conn.execute(stmt.returning(api_tokens.c.id)).scalar_one())

    def tokens(self) -> list[ApiToken]:
        """Every API token with its user's name, oldest first."""
        rows = self.conn.execute(_TOKENS.order_by(api_tokens.c.id))
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: int) -> Optional[ApiToken]:
        """Delete an API token; what it was, or None."""
        row = self.conn.execute(_TOKENS.where(api_tokens.c.id == token_id)).first()
        if row is None:
            return None
        self.conn.execute(delete(api_tokens).where(api_tokens.c.id == token_id))
        return _token(row)

    def by_token(self, token_hash: str) -> Optional[TokenOwner]:
        """The user owning an API token digest, with the token's id, last use and expiry."""
        row = self.conn.execute(
            select(
                *_USER,
                api_tokens.c.id.label("token_id"),
                api_tokens.c.last_used_at,
                api_tokens.c.expires_at,
            )
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == token_hash)
        ).first()
        if row is None:
            return None
        return TokenOwner(_user(row), int(row.token_id), row.last_used_at, row.expires_at)

    def mark_token_used(self, token_id: int, now: datetime) -> None:
        """Store when an API token was last used."""
        self.conn.execute(
            update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
        )

    def set_permissions(self, user_id: int, permissions: frozenset[Permission]) -> None:
        """Replace the permissions granted to a user on top of their role's."""
        names = sorted(p.value for p in permissions)
        self.conn.execute(update(users).where(users.c.id == user_id).values(permissions=names))

    def set_password(self, user_id: int, password_hash: str, now: datetime) -> None:
        """Store a user's password hash."""
        self.conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=password_hash, password_changed_at=now)
        )

    def password_hash(self, name: str) -> Optional[tuple[User, str]]:
        """User `name` and their password hash (None: no such user, or no password)."""
        row = self.conn.execute(
            select(*_USER, users.c.password_hash).where(users.c.name == name)
        ).first()
        if row is None or not row.password_hash:
            return None
        return _user(row), str(row.password_hash)


_USER = (users.c.id, users.c.name, users.c.role, users.c.permissions)
_TOKENS = select(
    api_tokens.c.id,
    users.c.name,
    api_tokens.c.created_at,
    api_tokens.c.last_used_at,
    api_tokens.c.expires_at,
).join(users, users.c.id == api_tokens.c.user_id)


def _user(row: Any) -> User:
    # A permission name this version does not know (written by a newer one) grants nothing.
    known = {p.value for p in Permission}
    granted = frozenset(Permission(p) for p in (row.permissions or ()) if p in known)
    return User(id=int(row.id), name=row.name, role=Role(row.role), permissions=granted)


def _token(row: Any) -> ApiToken:
    return ApiToken(int(row.id), row.name, row.created_at, row.last_used_at, row.expires_at)


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
