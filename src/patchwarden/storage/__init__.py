"""Storage adapters: the local advisory store (and, later, the server database)."""
