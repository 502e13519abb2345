"""Migrations: an empty database upgraded to head has exactly the schema of `tables.py`."""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, String, insert, inspect, select, text

from patchwarden.storage.db import SchemaError, make_engine, schema_transaction, transaction
from patchwarden.storage.migrate import MIGRATIONS_DIR, alembic_config, upgrade
from patchwarden.storage.tables import hosts, jobs, metadata

if sys.version_info >= (3, 11):
    import tomllib

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def migrated(db_url: str):
    upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _reflected(engine: Engine) -> dict[str, dict[str, object]]:
    insp = inspect(engine)
    schema: dict[str, dict[str, object]] = {}
    for table in insp.get_table_names():
        schema[table] = {
            "columns": {c["name"]: c["nullable"] for c in insp.get_columns(table)},
            # PostgreSQL also lists the index behind each UNIQUE constraint; those are
            # compared as constraints below.
            "indexes": {
                ix["name"]: _index_columns(engine, ix)
                for ix in insp.get_indexes(table)
                if "duplicates_constraint" not in ix
            },
            "unique": {
                uq["name"]: tuple(uq["column_names"]) for uq in insp.get_unique_constraints(table)
            },
            "foreign_keys": {
                (tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in insp.get_foreign_keys(table)
            },
            "primary_key": tuple(insp.get_pk_constraint(table)["constrained_columns"]),
        }
    return schema


def _index_columns(engine: Engine, ix: dict[str, Any]) -> tuple[tuple[str, bool], ...]:
    """(column, descending) pairs of a reflected index."""
    if engine.dialect.name == "sqlite":
        # SQLAlchemy does not reflect SQLite's sort order; index_xinfo has it (key columns
        # only: `key` = 1).
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(f"PRAGMA index_xinfo({ix['name']})").mappings().all()
        return tuple((r["name"], bool(r["desc"])) for r in rows if r["key"])
    sorting = ix.get("column_sorting", {})
    return tuple((col, "desc" in sorting.get(col, ())) for col in ix["column_names"])


def _declared() -> dict[str, dict[str, object]]:
    schema: dict[str, dict[str, object]] = {}
    for table in metadata.sorted_tables:
        schema[table.name] = {
            "columns": {c.name: c.nullable for c in table.columns},
            "indexes": {
                ix.name: tuple(
                    (col.name, str(expr).endswith(" DESC"))
                    for col, expr in zip(ix.columns, ix.expressions)
                )
                for ix in table.indexes
            },
            "unique": {
                uq.name: tuple(c.name for c in uq.columns)
                for uq in table.constraints
                if uq.__class__.__name__ == "UniqueConstraint"
            },
            "foreign_keys": {
                (tuple(c.name for c in fk.columns), fk.referred_table.name)
                for fk in table.foreign_key_constraints
            },
            "primary_key": tuple(c.name for c in table.primary_key.columns),
        }
    return schema


def test_head_matches_tables_py(migrated: Engine) -> None:
    reflected = _reflected(migrated)
    assert reflected.pop("alembic_version")["columns"] == {"version_num": False}
    declared = _declared()
    assert sorted(reflected) == sorted(declared)
    for name, table in declared.items():
        got = reflected[name]
        assert got["columns"] == table["columns"], name
        assert got["primary_key"] == table["primary_key"], name
        assert got["foreign_keys"] == table["foreign_keys"], name
        assert got["unique"] == table["unique"], name
        # (column, descending) per index, e.g. ix_records_urgency = (urgency DESC, id).
        assert got["indexes"] == table["indexes"], name


def test_autogenerate_finds_nothing_to_add(migrated: Engine) -> None:
    with migrated.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, metadata) == []


def test_drift_is_detected(migrated: Engine) -> None:
    # The check above must be able to fail: remove what tables.py declares and look.
    with transaction(migrated) as conn:
        conn.execute(text("DROP INDEX ix_jobs_status_claimed"))
    with migrated.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [(d[0], d[1].name) for d in diff] == [("add_index", "ix_jobs_status_claimed")]


def test_upgrade_is_idempotent_and_records_head(migrated: Engine, db_url: str) -> None:
    upgrade(db_url)
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    with migrated.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            head
        ]


def upgrade_at_once(url: str, consoles: int = 3) -> list[BaseException]:
    """`upgrade(url)` in `consoles` threads released together, each with its own engine and
    connection like separate console processes; what they raised."""
    barrier = threading.Barrier(consoles)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            upgrade(url)
        except BaseException as exc:  # surfaced by the callers' asserts
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(consoles)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_processes_starting_at_once_migrate_once(db_url: str) -> None:
    assert upgrade_at_once(db_url) == []
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_a_new_sqlite_file_opened_by_several_consoles_at_once(tmp_path: Path) -> None:
    # The switch to WAL on a brand-new file used to fail at once ("database is locked")
    # in about one start in five; repeated on fresh files so a regression shows.
    for attempt in range(12):
        assert upgrade_at_once(f"sqlite:///{tmp_path / f'fresh-{attempt}.db'}") == [], attempt


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib reads pyproject.toml")
def test_migrations_ship_inside_the_package() -> None:
    # No alembic.ini at run time: the wheel must carry env.py, the template and revisions.
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["patchwarden"]
    package = REPO / "src" / "patchwarden"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    needed = [MIGRATIONS_DIR / "env.py", MIGRATIONS_DIR / "script.py.mako"]
    needed += sorted((MIGRATIONS_DIR / "versions").glob("*.py"))
    assert len(needed) > 2
    assert [p for p in needed if p not in shipped] == []


@pytest.fixture
def sqlite_migrated(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'patchwarden.db'}"
    upgrade(url)
    engine = make_engine(url)
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with transaction(engine) as conn:
        conn.execute(insert(hosts).values(id="h1", hostname="h1", secret_hash="", enrolled_at=now))
        conn.execute(insert(jobs).values(host_id="h1", kind="scan", params={}, created_at=now))
    yield engine
    engine.dispose()


def test_sqlite_table_rebuild_keeps_child_rows(sqlite_migrated: Engine) -> None:
    # Alembic batch mode rebuilds a table by copy, drop and rename; with foreign keys
    # enforced the drop of `hosts` would cascade to `jobs`.
    with schema_transaction(sqlite_migrated) as conn:
        ops = Operations(MigrationContext.configure(conn))
        with ops.batch_alter_table("hosts", recreate="always") as batch:
            batch.add_column(Column("note", String(100)))
    with transaction(sqlite_migrated, write=False) as conn:
        assert conn.execute(select(jobs.c.host_id)).scalars().all() == ["h1"]
        assert "note" in [c["name"] for c in inspect(conn).get_columns("hosts")]
        # The pooled connection is back to enforcing foreign keys.
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_schema_change_leaving_dangling_rows_is_rolled_back(
    sqlite_migrated: Engine,
) -> None:
    with (
        pytest.raises(SchemaError, match=r"1 row\(s\) pointing at missing parents, e.g. jobs"),
        schema_transaction(sqlite_migrated) as conn,
    ):
        conn.execute(text("DELETE FROM hosts"))
    with transaction(sqlite_migrated, write=False) as conn:
        assert conn.execute(select(hosts.c.id)).scalars().all() == ["h1"]
