"""Secrets: enrolment tokens, API tokens and agent secrets (only SHA-256 digests are stored)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

ENROLMENT_PREFIX = "pwe_"
API_PREFIX = "pwa_"


def new_secret(prefix: str = "") -> str:
    """A fresh random secret (256 bits, URL-safe)."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the database keeps of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    """Constant-time check of a presented secret against its stored digest."""
    return hmac.compare_digest(digest(secret), stored_digest)
