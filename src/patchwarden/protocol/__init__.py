"""Agent ⇄ console wire protocol (standard library only, Python 3.9 syntax)."""
