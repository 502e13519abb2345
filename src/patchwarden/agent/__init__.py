"""The patchwarden agent: standard library only, Python >= 3.9 (DESIGN §3)."""
