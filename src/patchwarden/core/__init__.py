"""Pure domain core: inventory, advisories, version schemes, matching. Standard library only.

The agent imports `core.inventory` and `core.errors`, so everything here except
`core.versions` (which wraps univers / semver / packaging) keeps Python 3.9 syntax.
"""
