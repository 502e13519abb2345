"""The local advisory store: one SQLite file per data directory, indexed by (ecosystem, name).

Plain `sqlite3` rather than SQLAlchemy on purpose: the store is a read-mostly lookup cache that
is bulk-loaded by feed imports (tens of thousands of rows per second) and queried once per
installed package; each console replica keeps its own copy, like trivy-db. Advisory bodies
are stored as compact JSON (see `advisory_codec`), affected entries in their own indexed rows.

Every import also fills the rating index (`ratings`, issue 8): per CVE, what each source
that named it says about it (`core.ratings.ratings_of`; the NVD feed yields ratings only),
written in the import's transaction and replaced with the feed like its advisories.

Imports are transactional: a feed either lands whole (replacing what the same feed location
imported before) or not at all. Each import writes through a connection of its own, so the
shared reading connection of a console never sees one half done (WAL: readers see the last
commit), and bumps the store's `generation`, a counter in `meta` that every process using
the file reads alike: a console's lookup cache compares it to notice a `feeds import` run
from the CLI (`services.index.CachedIndex`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    CveRating,
    EpssScore,
    FeedItem,
    KevEntry,
    Severity,
)
from patchwarden.core.errors import StoreError
from patchwarden.core.ratings import better, ratings_of
from patchwarden.services.ports import FeedInfo, ImportStats
from patchwarden.storage.advisory_codec import (
    advisory_from_json,
    advisory_to_json,
    affected_from_dict,
    affected_to_dict,
)
from patchwarden.storage.files import private_dir, private_file

STORE_FILE = "advisories.db"
SCHEMA_VERSION = 3
"""3 added the rating index; a store of schema 2 gets it filled from its advisories on
opening (`_upgrade_from_2`)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feeds (
    origin TEXT PRIMARY KEY,          -- kind:location, e.g. osv:/data/almalinux9.zip
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    records INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    etag TEXT,
    last_modified TEXT
);
CREATE TABLE IF NOT EXISTS advisories (
    pk INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (origin, source, id)
);
CREATE INDEX IF NOT EXISTS advisories_origin ON advisories (origin);
CREATE TABLE IF NOT EXISTS affected (
    advisory_pk INTEGER NOT NULL REFERENCES advisories (pk) ON DELETE CASCADE,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS affected_lookup ON affected (ecosystem, name);
CREATE INDEX IF NOT EXISTS affected_advisory ON affected (advisory_pk);
CREATE TABLE IF NOT EXISTS kev (
    cve TEXT PRIMARY KEY, origin TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS epss (
    cve TEXT PRIMARY KEY, origin TEXT NOT NULL,
    epss REAL NOT NULL, percentile REAL NOT NULL, date TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ratings (
    cve TEXT NOT NULL,
    source TEXT NOT NULL,             -- ubuntu, debian, almalinux, nvd, ghsa, ...
    origin TEXT NOT NULL,
    body TEXT NOT NULL,               -- compact JSON (_rating_to_json)
    PRIMARY KEY (cve, source, origin)
);
CREATE INDEX IF NOT EXISTS ratings_origin ON ratings (origin);
"""


class AdvisoryStore:
    """Read and write access to one advisory store file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # One connection shared by a threaded server: sqlite3 needs calls serialised.
        self._lock = threading.Lock()
        self._ids_by_eco: tuple[int, dict[str, set[str]]] | None = None
        try:
            private_dir(path.parent)
            private_file(path)  # 0600 before SQLite opens it: its -wal and -shm copy the mode
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(f"{path}: cannot open the advisory store: {exc}") from exc
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif row[0] == "2":
            self._upgrade_from_2()
        elif row[0] != str(SCHEMA_VERSION):
            raise StoreError(
                f"{path}: advisory store schema {row[0]}, this patchwarden reads {SCHEMA_VERSION};"
                " delete the file and import the feeds again"
            )
        # Stores written before the counter existed start it here (no schema change); a
        # store that has it is only read, so a read-only one still opens.
        if self._db.execute("SELECT 1 FROM meta WHERE key='generation'").fetchone() is None:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")

    @classmethod
    def in_dir(cls, data_dir: Path) -> AdvisoryStore:
        """The store of a data directory."""
        return cls(data_dir / STORE_FILE)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> AdvisoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _upgrade_from_2(self) -> None:
        """Fill the rating index from the advisories a schema-2 store holds (one pass, in one
        transaction), so an upgrade rates findings without importing the feeds again."""
        db = self._writer()
        try:
            db.execute("BEGIN IMMEDIATE")
            schema = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if schema is not None and schema[0] == "2":  # another process may have done it
                rows = db.execute(
                    "SELECT a.origin, a.body, (SELECT f.body FROM affected f"
                    " WHERE f.advisory_pk = a.pk LIMIT 1) FROM advisories a ORDER BY a.origin"
                )
                by_origin: dict[str, dict[tuple[str, str], CveRating]] = {}
                for origin, body, first in rows:
                    affected = (affected_from_dict(json.loads(first)),) if first else ()
                    _collect(by_origin.setdefault(origin, {}), advisory_from_json(body, affected))
                for origin, ratings in by_origin.items():
                    _put_ratings(db, origin, ratings)
                db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))
                db.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'"
                )
            db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(
                f"{self.path}: cannot add the rating index to this advisory store: {exc}"
            ) from exc
        finally:
            db.close()

    # -- writing -----------------------------------------------------------------------------

    def import_items(
        self,
        kind: str,
        location: str,
        items: Iterable[FeedItem],
        now: datetime,
        skipped: Callable[[], int] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> ImportStats:
        """Store everything `items` yields in one transaction, replacing this origin's rows;
        `now` is the import time kept with the feed.

        If iterating `items` raises (a truncated archive half-way), nothing is changed.
        `skipped` is called after the iteration to learn how many records the parser skipped.
        """
        origin = f"{kind}:{location}"
        counts = {"advisories": 0, "affected": 0, "kev": 0, "epss": 0, "ratings": 0}
        ratings: dict[tuple[str, str], CveRating] = {}
        try:
            db = self._writer()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the advisory store: {exc}") from exc
        try:
            db.execute("BEGIN IMMEDIATE")
            replaced = db.execute(
                "SELECT COUNT(*) FROM advisories WHERE origin=?", (origin,)
            ).fetchone()[0]
            for table in ("advisories", "kev", "epss", "ratings"):
                db.execute(f"DELETE FROM {table} WHERE origin=?", (origin,))
            for item in items:
                if isinstance(item, Advisory):
                    _put_advisory(db, origin, item)
                    _collect(ratings, item)
                    counts["advisories"] += 1
                    counts["affected"] += len(item.affected)
                elif isinstance(item, CveRating):
                    _merge(ratings, item)
                    counts["ratings"] += 1
                elif isinstance(item, KevEntry):
                    db.execute(
                        "INSERT OR REPLACE INTO kev VALUES (?, ?, ?)",
                        (item.cve, origin, json.dumps(item.__dict__)),
                    )
                    counts["kev"] += 1
                elif isinstance(item, EpssScore):
                    db.execute(
                        "INSERT OR REPLACE INTO epss VALUES (?, ?, ?, ?, ?)",
                        (item.cve, origin, item.epss, item.percentile, item.date),
                    )
                    counts["epss"] += 1
            _put_ratings(db, origin, ratings)
            n_skipped = skipped() if skipped is not None else 0
            db.execute(
                "INSERT OR REPLACE INTO feeds VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    origin,
                    kind,
                    location,
                    now.isoformat(timespec="seconds"),
                    counts["advisories"] + counts["kev"] + counts["epss"] + counts["ratings"],
                    n_skipped,
                    etag,
                    last_modified,
                ),
            )
            db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()
        return ImportStats(kind=kind, location=location, replaced=replaced, **counts)

    def _writer(self) -> sqlite3.Connection:
        """A connection of its own for one import (see the module docstring)."""
        db = sqlite3.connect(str(self.path), isolation_level=None)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")  # affected rows go with their advisory
        db.execute("PRAGMA busy_timeout=10000")
        return db

    def generation(self) -> int:
        """How many imports the store has seen, counted in the file: every process that
        opened it reads the same number, which changes with each committed import."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    # -- reading -----------------------------------------------------------------------------

    def lookup(self, ecosystem: str, name: str) -> list[tuple[Advisory, Affected]]:
        """Every (advisory, affected entry) for a package name under an ecosystem."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.body, f.body FROM affected f JOIN advisories a ON a.pk = f.advisory_pk"
                " WHERE f.ecosystem=? AND f.name=?",
                (ecosystem, name),
            ).fetchall()
        return [(advisory_from_json(adv), affected_from_dict(json.loads(aff))) for adv, aff in rows]

    def artifact_names(self, artifact: str) -> list[str]:
        """Every Maven `group:artifact` named with this artifact id, sorted."""
        escaped = artifact.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT name FROM affected WHERE ecosystem = 'Maven'"
                " AND name LIKE ? ESCAPE '\\'",
                (f"%:{escaped}",),
            ).fetchall()
        # LIKE ignores ASCII case: keep the exact artifact ids only.
        return sorted(n for (n,) in rows if n.rpartition(":")[2] == artifact)

    def kev(self, cves: Sequence[str]) -> dict[str, KevEntry]:
        """KEV entries of the given CVEs."""
        out: dict[str, KevEntry] = {}
        for chunk in _chunks(cves):
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT cve, body FROM kev WHERE cve IN ({marks})", chunk
                ).fetchall()
            for cve, body in rows:
                out[cve] = KevEntry(**json.loads(body))
        return out

    def epss(self, cves: Sequence[str]) -> dict[str, EpssScore]:
        """EPSS scores of the given CVEs."""
        out: dict[str, EpssScore] = {}
        for chunk in _chunks(cves):
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT cve, epss, percentile, date FROM epss WHERE cve IN ({marks})", chunk
                ).fetchall()
            for cve, score, pct, date in rows:
                out[cve] = EpssScore(cve=cve, epss=score, percentile=pct, date=date)
        return out

    def ratings(self, cves: Sequence[str]) -> dict[str, list[CveRating]]:
        """Every source's rating of each of the given CVEs (one per imported feed location)."""
        out: dict[str, list[CveRating]] = {}
        for chunk in _chunks(cves):
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT cve, source, body FROM ratings WHERE cve IN ({marks})"
                    " ORDER BY cve, source, origin",
                    chunk,
                ).fetchall()
            for cve, source, body in rows:
                out.setdefault(cve, []).append(_rating_from_json(cve, source, body))
        return out

    def feeds(self) -> list[FeedInfo]:
        """Imported feed locations, oldest first."""
        rows = self._db.execute(
            "SELECT kind, location, imported_at, records, skipped, etag, last_modified"
            " FROM feeds ORDER BY imported_at"
        ).fetchall()
        return [FeedInfo(*r) for r in rows]

    def feed(self, kind: str, location: str) -> FeedInfo | None:
        """One imported feed location (for conditional downloads)."""
        row = self._db.execute(
            "SELECT kind, location, imported_at, records, skipped, etag, last_modified"
            " FROM feeds WHERE origin=?",
            (f"{kind}:{location}",),
        ).fetchone()
        return FeedInfo(*row) if row else None

    def search(self, q: str, limit: int, offset: int) -> tuple[list[Advisory], int]:
        """Advisories whose id, aliases or summary contain `q` (catalogue, R-T7), one per id
        (the latest import when several feeds hold it), by id; and how many ids match."""
        like = f"%{q}%"
        where = "WHERE id LIKE ? OR body LIKE ?" if q else ""
        args: tuple[object, ...] = (like, like) if q else ()
        with self._lock:
            total = self._db.execute(
                f"SELECT COUNT(DISTINCT id) FROM advisories {where}", args
            ).fetchone()
            rows = self._db.execute(
                "SELECT body FROM advisories WHERE pk IN"
                f" (SELECT MAX(pk) FROM advisories {where} GROUP BY id)"
                " ORDER BY id LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        return [advisory_from_json(body) for (body,) in rows], int(total[0])

    def ids_by_base_ecosystem(self, ids: Sequence[str] = ()) -> dict[str, set[str]]:
        """Base ecosystem (`Debian`, `Maven`) -> ids of the advisories naming packages in it;
        over every advisory, or over `ids` only.

        The answer over every advisory (0.65 s with the UCT and AlmaLinux sets) is kept until
        an import changes the advisories, by this process or another one; do not mutate it.
        """
        if not ids:
            generation = self.generation()
            cached = self._ids_by_eco
            if cached is not None and cached[0] == generation:
                return cached[1]
            answer = self._ids_by_base_ecosystem(())
            self._ids_by_eco = (generation, answer)
            return answer
        return self._ids_by_base_ecosystem(ids)

    def _ids_by_base_ecosystem(self, ids: Sequence[str]) -> dict[str, set[str]]:
        base = "substr(f.ecosystem, 1, instr(f.ecosystem || ':', ':') - 1)"
        sql = (
            f"SELECT DISTINCT {base}, a.id FROM advisories a"
            " JOIN affected f ON f.advisory_pk = a.pk"
        )
        out: dict[str, set[str]] = {}
        with self._lock:
            if ids:
                rows = [
                    row
                    for chunk in _chunks(list(ids))
                    for row in self._db.execute(
                        f"{sql} WHERE a.id IN ({','.join('?' * len(chunk))})", chunk
                    )
                ]
            else:
                rows = self._db.execute(sql).fetchall()
        for eco, rid in rows:
            out.setdefault(eco, set()).add(rid)
        return out

    def counts(self) -> dict[str, int]:
        """Row counts per table."""
        return {
            t: self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("advisories", "affected", "kev", "epss", "ratings")
        }


def _put_advisory(db: sqlite3.Connection, origin: str, adv: Advisory) -> None:
    # Keyed per origin: one id may come from several files of a feed (Alpine secdb
    # groups by CVE per release file); lookups return them all, matching merges them.
    db.execute(
        "DELETE FROM advisories WHERE origin=? AND source=? AND id=?",
        (origin, adv.source, adv.id),
    )
    pk = db.execute(
        "INSERT INTO advisories (origin, source, id, body) VALUES (?, ?, ?, ?)",
        (origin, adv.source, adv.id, advisory_to_json(adv)),
    ).lastrowid
    db.executemany(
        "INSERT INTO affected VALUES (?, ?, ?, ?)",
        [
            (
                pk,
                a.package.ecosystem,
                a.package.name,
                json.dumps(affected_to_dict(a), separators=(",", ":")),
            )
            for a in adv.affected
        ],
    )


def _merge(ratings: dict[tuple[str, str], CveRating], rating: CveRating) -> None:
    key = (rating.cve, rating.source)
    held = ratings.get(key)
    ratings[key] = rating if held is None else better(held, rating)


def _collect(ratings: dict[tuple[str, str], CveRating], adv: Advisory) -> None:
    """Add what `adv` says about its CVEs to one import's ratings (one per CVE and source)."""
    for rating in ratings_of(adv):
        _merge(ratings, rating)


def _put_ratings(
    db: sqlite3.Connection, origin: str, ratings: dict[tuple[str, str], CveRating]
) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?)",
        [(r.cve, r.source, origin, _rating_to_json(r)) for r in ratings.values()],
    )


def _rating_to_json(r: CveRating) -> str:
    d: dict[str, object] = {"s": r.severity.value}
    if r.cvss_score is not None:
        d["c"] = r.cvss_score
    if r.cvss_vector:
        d["v"] = r.cvss_vector
    if r.title:
        d["t"] = r.title
    if r.references:
        d["r"] = list(r.references)
    if r.modified:
        d["m"] = r.modified
    if not r.exact:
        d["x"] = False
    return json.dumps(d, separators=(",", ":"))


def _rating_from_json(cve: str, source: str, body: str) -> CveRating:
    d = json.loads(body)
    return CveRating(
        cve=cve,
        source=source,
        severity=Severity(d["s"]),
        cvss_score=d.get("c"),
        cvss_vector=d.get("v", ""),
        title=d.get("t", ""),
        references=tuple(d.get("r", ())),
        modified=d.get("m", ""),
        exact=d.get("x", True),
    )


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[list[str]]:
    items = list(dict.fromkeys(items))
    for i in range(0, len(items), size):
        yield items[i : i + size]
