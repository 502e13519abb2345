"""Console settings: read them, change them (the settings permission: owner or admin), and
what they mean for the lifecycle. The `Settings` read model, its validation and bounds live in
`services.ports`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from patchwarden.core.errors import InputError
from patchwarden.core.records import LifecyclePolicy
from patchwarden.core.vocabulary import VulnType
from patchwarden.services.ports import Permission, Settings, UnitOfWork, User, settings_from
from patchwarden.services.users import require


def get_settings(uow: UnitOfWork) -> Settings:
    """The current settings."""
    with uow.read():
        return uow.settings.get()


def update_settings(uow: UnitOfWork, user: User, patch: Mapping[str, Any]) -> Settings:
    """Change some settings, keep the rest; InputError naming the first bad field, Forbidden
    without the settings permission."""
    require(user, Permission.SETTINGS, "changing settings")
    with uow:
        new = merge(uow.settings.get(), patch)
        uow.settings.put(new)
        uow.commit()
    return new


def merge(current: Settings, patch: Mapping[str, Any]) -> Settings:
    """Apply a partial update (dict values merge key by key); InputError when invalid."""
    unknown = set(patch) - {f.name for f in fields(Settings)}
    if unknown:
        raise InputError(f"unknown settings {sorted(unknown)}")
    data = asdict(current)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    try:
        return settings_from(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"invalid setting {where}: {first['msg']}") from None


def lifecycle_policy(s: Settings) -> LifecyclePolicy:
    """The lifecycle's time rules under these settings (R-L1, R-L2, R-L6)."""
    return LifecyclePolicy(
        offline_expiry={VulnType(t): timedelta(days=d) for t, d in s.offline_ttl_days.items()},
        clear_after=timedelta(days=s.clear_after_days),
        retention=timedelta(days=s.retention_days),
    )
