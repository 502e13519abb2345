"""agent.apt.changelog: entries and CVE ids of recorded Debian changelogs."""

from __future__ import annotations

from pathlib import Path

from patchwarden.agent.apt.changelog import newer_than, parse_changelog

CHANGELOGS = Path(__file__).resolve().parents[2] / "data" / "repocheck" / "apt" / "changelogs"


def _entries(name: str):
    return parse_changelog((CHANGELOGS / name).read_text(encoding="utf-8"))


def test_jq_entries_since_installed_version() -> None:
    entries = _entries("jq_1.6-2.1+deb12u3.changelog")
    assert [e.version for e in entries[:3]] == [
        "1.6-2.1+deb12u3",
        "1.6-2.1+deb12u2",
        "1.6-2.1+deb12u1",
    ]
    assert entries[0].distributions == ("bookworm-security",)
    found = newer_than(entries, "1.6-2.1+deb12u1")
    assert found.versions == ("1.6-2.1+deb12u3", "1.6-2.1+deb12u2")
    assert found.reached_installed
    assert found.urgency == "high"  # deb12u2 was urgency=high, deb12u3 medium
    assert found.cves[:2] == ("CVE-2026-32316", "CVE-2026-33947")
    assert len(found.cves) == 15 and len(set(found.cves)) == 15


def test_only_entries_above_installed_count() -> None:
    entries = _entries("jq_1.6-2.1+deb12u3.changelog")
    only_last = newer_than(entries, "1.6-2.1+deb12u2")
    everything = newer_than(entries, "1.6-2.1+deb12u1")
    assert only_last.versions == ("1.6-2.1+deb12u3",)
    assert set(only_last.cves) < set(everything.cves)
    assert only_last.urgency == "medium"


def test_binnmu_installed_source_version() -> None:
    """libbrotli1 1.0.9-2+b6 is source brotli 1.0.9-2: the security upload is newer."""
    found = newer_than(_entries("brotli_1.0.9-2+deb12u1.changelog"), "1.0.9-2")
    assert found.cves == ("CVE-2026-111497",)
    assert found.versions == ("1.0.9-2+deb12u1",)


def test_openssl_security_and_point_release_entries() -> None:
    found = newer_than(_entries("openssl_3.0.22-1~deb12u2.changelog"), "3.0.19-1~deb12u2")
    assert found.versions == (
        "3.0.22-1~deb12u2",
        "3.0.22-1~deb12u1",
        "3.0.20-1~deb12u2",
        "3.0.20-1~deb12u1",
    )
    assert found.urgency == "high"
    assert len(found.cves) == 21


def test_truncated_changelog_says_it_never_reached_installed() -> None:
    found = newer_than(_entries("openssl_3.0.22-1~deb12u2.changelog"), "3.0.2-1")
    assert not found.reached_installed
    assert found.versions[-1] == "3.0.18-1~deb12u2"


def test_advisory_ids_trailers_and_old_format_end() -> None:
    text = (
        "foo (1.2-1+deb12u1) bookworm-security; urgency=high (HIGH for servers)\n"
        "\n"
        "  * Fix CVE-2024-0001 and CVE-2024-10002 (DSA-5678-1).\n"
        "\n"
        " -- Jane Doe <jane@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n"
        "\n"
        "foo (1.2-1) unstable; urgency=low\n"
        "\n"
        "  * Mention CVE-2023-9999 only in an older entry.\n"
        "\n"
        " -- Jane Doe <jane@example.org>  Sun, 31 Dec 2023 00:00:00 +0000\n"
        "\n"
        "Old Changelog:\n"
        "foo (0.1-1) unstable; urgency=low\n"
    )
    entries = parse_changelog(text)
    assert [e.version for e in entries] == ["1.2-1+deb12u1", "1.2-1"]
    assert entries[0].urgency == "high"
    assert entries[0].advisories == ("DSA-5678-1",)
    found = newer_than(entries, "1.2-1")
    assert found.cves == ("CVE-2024-0001", "CVE-2024-10002")
    assert found.advisories == ("DSA-5678-1",)
