"""Inventory collectors, one module per source; `registry.COLLECTORS` lists them in run order.

This package module stays empty so that parser modules can import `collectors.base`
without pulling in every collector (and the collectors import those parsers).
"""
