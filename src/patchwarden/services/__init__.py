"""Use cases as plain functions over core values and ports (STYLE A3)."""
