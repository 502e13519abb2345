"""Driver protocol: turn an inventory into index queries (STYLE §9 "why detect/")."""

from __future__ import annotations

from patchwarden.core.advisory import Advisory
from patchwarden.core.inventory import Inventory, Package
from patchwarden.core.matching import Confidence, Method, Query
from patchwarden.detect.kernel import KERNEL_ROLES, KernelRole, kernel_role


class Driver:
    """Base of the family drivers; subclasses set `family`, `scheme` and the key rules."""

    family: str = ""
    name: str = ""
    version: int = 1
    """Bump when the queries a driver produces change (cache keys, evidence)."""
    scheme: str = ""
    package_format: str = ""

    def ecosystems(self, inv: Inventory) -> list[str]:
        """OSV ecosystems (with release suffix) whose advisories apply to this host."""
        raise NotImplementedError

    def relevant(self, advisory: Advisory) -> bool:
        """Whether an advisory of this family's feeds is about security at all."""
        return True

    def version_scheme(self, inv: Inventory) -> str:
        """The version scheme this host's versions are compared in."""
        return self.scheme

    def lookup_key(self, pkg: Package) -> tuple[str, str]:
        """(name, version) the advisories of this family use for `pkg`."""
        return pkg.name, pkg.version

    def queries(self, inv: Inventory) -> list[Query]:
        """One query per (package of this family's format, ecosystem)."""
        ecosystems = self.ecosystems(inv)
        scheme = self.version_scheme(inv)
        out: list[Query] = []
        for pkg in inv.packages:
            if pkg.format != self.package_format:
                continue
            role = kernel_role(pkg, inv)
            if role in (KernelRole.OTHER_KERNEL, KernelRole.KERNEL_TOOLING):
                continue  # not the running kernel: a fact, never a kernel finding (R-D7)
            method, confidence, note = Method.DISTRO_ADVISORY, Confidence.HIGH, ""
            if role is KernelRole.RUNNING:
                method = Method.RUNNING_KERNEL
            elif role is KernelRole.NEWEST_UNBOOTED:
                method, confidence = Method.NEWEST_KERNEL, Confidence.MEDIUM
                note = "root not booted here: judged on the newest installed kernel"
            name, version = self.lookup_key(pkg)
            out.extend(
                Query(
                    package=pkg,
                    ecosystem=eco,
                    name=name,
                    version=version,
                    scheme=scheme,
                    method=method,
                    confidence=confidence,
                    note=note,
                    restart_required=role in KERNEL_ROLES,
                )
                for eco in ecosystems
            )
        return out
