"""Package URLs (purl) of installed distro packages, as SBOM and SARIF output name them.

`pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12`,
`pkg:rpm/almalinux/bash@5.1.8-6.el9?arch=x86_64&distro=almalinux-9.3&epoch=1`,
`pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=3.18.4` — the purl spec's types, with the
qualifiers Trivy writes for the same packages, so the two tools' SBOMs line up.
Encoding follows the spec as packageurl-python implements it (the tests compare with it).
"""

from __future__ import annotations

from urllib.parse import quote

from patchwarden.core.app_instances import AppComponent
from patchwarden.core.inventory import OsRelease, Package

# os-release ID -> purl namespace where the purl ecosystem spells the vendor differently.
_VENDOR = {"rhel": "redhat", "ol": "oracle", "opensuse-leap": "opensuse"}


def _encode(text: str) -> str:
    """Percent-encode a purl component; `:` stays (the spec leaves it readable)."""
    return quote(text, safe="").replace("%3A", ":")


_APP_TYPES = {"Maven": "maven", "PyPI": "pypi", "npm": "npm"}
"""OSV ecosystem -> purl type of an application component."""


def component_purl(component: AppComponent) -> str:
    """The purl of an application component: `pkg:maven/com.alibaba/fastjson@1.2.24`,
    `pkg:pypi/requests@2.30.0`, `pkg:npm/%40scope/name@1.0.0`; `pkg:generic/…` otherwise."""
    kind = _APP_TYPES.get(component.ecosystem, "generic")
    name = component.name
    if kind == "maven" and ":" in name:
        group, _, artifact = name.partition(":")
        path = f"{_encode(group)}/{_encode(artifact)}"
    elif kind == "npm" and name.startswith("@") and "/" in name:
        scope, _, rest = name.partition("/")
        path = f"{_encode(scope)}/{_encode(rest)}"
    else:
        path = _encode(name.lower() if kind == "pypi" else name)
    text = f"pkg:{kind}/{path}"
    return f"{text}@{_encode(component.version)}" if component.version else text


def package_purl(pkg: Package, os: OsRelease) -> str:
    """The purl of an installed package of the OS `os`."""
    version = pkg.version
    qualifiers: dict[str, str] = {}
    if pkg.arch:
        qualifiers["arch"] = pkg.arch
    os_version = os.version_id or os.release
    vendor = _VENDOR.get(os.id, os.id)
    if pkg.format == "apk":
        kind = "apk"
        if os_version:
            qualifiers["distro"] = os_version
    else:
        kind = pkg.format if pkg.format in ("deb", "rpm") else "generic"
        if os_version and os.id != "unknown":
            qualifiers["distro"] = f"{vendor}-{os_version}"
        if kind == "rpm":
            # rpm purls carry the epoch as a qualifier, not in the version (purl spec, rpm).
            epoch, sep, rest = version.partition(":")
            if sep and epoch.isdigit():
                version = rest
                if epoch != "0":
                    qualifiers["epoch"] = epoch
    namespace = "" if kind == "generic" or os.id == "unknown" else f"{_encode(vendor)}/"
    text = f"pkg:{kind}/{namespace}{_encode(pkg.name)}"
    if version:
        text += f"@{_encode(version)}"
    if qualifiers:
        text += "?" + "&".join(f"{k}={_encode(v)}" for k, v in sorted(qualifiers.items()))
    return text
