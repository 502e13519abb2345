"""patchwarden: self-hosted vulnerability management (agent inventory, OSV matching, lifecycle)."""

__version__ = "0.1.0"
