"""Error hierarchy of patchwarden.

    PatchwardenError
    ├── InvalidVersion          a version string its scheme cannot parse (also a ValueError)
    ├── UnknownScheme           no version scheme / ecosystem of that name
    ├── InputError              bad input the user handed us (exit code 2 on the CLI)
    │   ├── InventoryError      a package database / os-release that cannot be read at all
    │   └── FeedError           an advisory file or archive that cannot be read at all
    │       └── MalformedRecord one bad record inside a feed (logged, counted, skipped)
    └── StoreError              the local advisory store is missing or unusable

Errors always name the thing that is wrong (file, record id, version string) so a user can
act on the message alone.
"""

from __future__ import annotations


class PatchwardenError(Exception):
    """Root of every error patchwarden raises on purpose."""


class InvalidVersion(PatchwardenError, ValueError):
    """A version string that its scheme cannot parse."""

    def __init__(self, scheme: str, version: str, why: str = "") -> None:
        self.scheme = scheme
        self.version = version
        detail = f": {why}" if why else ""
        super().__init__(f"invalid {scheme} version {version!r}{detail}")


class UnknownScheme(PatchwardenError, LookupError):
    """A version scheme or ecosystem we do not know."""


class InputError(PatchwardenError):
    """Bad input handed to us by the user: a file, an archive, a root directory."""


class InventoryError(InputError):
    """An inventory source (package database, os-release, root) that cannot be read."""


class FeedError(InputError):
    """An advisory feed file or archive that cannot be read at all."""


class MalformedRecord(FeedError):
    """One record of a feed that is malformed; the import skips it and goes on."""

    def __init__(self, record_id: str, why: str) -> None:
        self.record_id = record_id
        self.why = why
        super().__init__(f"{record_id}: {why}")


class StoreError(PatchwardenError):
    """The local advisory store is missing, locked or corrupt."""
