"""Findings from the repository check: security updates the host's own repositories offer.

The pending update is the fact (the host's vendor ships a fix it has not installed), so the
finding stands even when no CVE could be named; it then carries the update as its id and a
note saying why the CVE list is missing (issue #2 item 5).
"""

from __future__ import annotations

from dataclasses import replace

from patchwarden.core.advisory import UNRATED, Severity
from patchwarden.core.inventory import Inventory, PendingUpdate
from patchwarden.core.matching import Confidence, Match, Method
from patchwarden.core.ratings import own_source
from patchwarden.detect.kernel import KERNEL_ROLES, KernelRole, kernel_role

_NOT_RUNNING_KERNEL = (KernelRole.KERNEL_TOOLING, KernelRole.OTHER_KERNEL)
_KERNEL_NOTE = (
    "pending security update of a kernel-source package that is not the running kernel; "
    "its {n} kernel CVEs are judged on the running kernel"
)


def update_id(update: PendingUpdate) -> str:
    """Id of a pending update without CVEs: its advisory, else `repo:source=candidate`."""
    if update.advisories:
        return update.advisories[0]
    source = update.source_package or update.package
    return f"{update.repository}:{source}={update.candidate_version}"


def pending_update_matches(inv: Inventory) -> list[Match]:
    """One finding per (package, CVE) of every pending security update."""
    out: list[Match] = []
    packages = {p.name: p for p in inv.packages}
    # The repository's own rating (dnf updateinfo), when it gives one; apt gives none, and
    # detection then takes one from the rating index.
    vendor = own_source(inv.os.id, inv.os.family)
    for upd in inv.pending_updates:
        severity = Severity.parse(upd.severity)
        pkg = packages.get(upd.package)
        role = kernel_role(pkg, inv) if pkg is not None else KernelRole.NOT_KERNEL
        base = Match(
            id=update_id(upd),
            cves=upd.cves,
            package=upd.package,
            source_package=upd.source_package or upd.package,
            installed_version=upd.installed_version,
            fixed_version=upd.candidate_version,
            severity=severity,
            cvss=None,
            severity_source=vendor if severity is not Severity.UNKNOWN else UNRATED,
            method=Method.REPOSITORY_UPDATE,
            confidence=Confidence.HIGH if upd.cves else Confidence.MEDIUM,
            # A kernel fix takes a reboot (R-F4).
            restart_required=upd.restart_required or role in KERNEL_ROLES,
            reason=upd.note,
            advisories=(*upd.advisories, f"{upd.repository}:{upd.candidate_version}"),
            ecosystem=upd.repository,
            lookup_name=upd.package,
        )
        if not upd.cves:
            out.append(base)
            continue
        if role in _NOT_RUNNING_KERNEL:
            # Kernel CVEs concern the running kernel only (R-D7): the pending update of a
            # kernel-source package that is not the running kernel is one finding, not one
            # per kernel CVE in the changelog.
            out.append(replace(base, cves=(), reason=_KERNEL_NOTE.format(n=len(upd.cves))))
            continue
        # One finding per CVE, about that CVE only (its rating, KEV and EPSS are its own).
        out.extend(replace(base, id=cve, cves=(cve,)) for cve in upd.cves)
    return out
