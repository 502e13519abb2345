"""apt/dpkg data the repository check reads: indices, policy, changelogs, .deb archives."""
