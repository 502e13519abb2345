"""Storage adapters: the local advisory store (sqlite3) and the console database (SQLAlchemy)."""
