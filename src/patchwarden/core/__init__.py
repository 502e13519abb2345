"""Pure domain core: inventory, advisories, vocabularies, version schemes, matching, lifecycle.

Standard library only, except the version schemes `core.versions` loads on first use (maven,
semver, pep440 wrap univers / semver / packaging). The agent imports `core.inventory`,
`core.errors`, `core.ecosystems` and `core.versions` (for the dpkg ordering), so everything
here keeps Python 3.9 syntax.
"""
