"""``SQLiteCache``: answers in a SQLite file, shared by the threads and processes of a machine.

The database runs in WAL mode (readers never wait for a writer; processes share the file
safely) with a busy timeout for concurrent writers. Entries are bounded by total size and,
optionally, by count; the least recently used go first. "Recently used" is a timestamp per
entry, refreshed on a hit only when older than ``touch_interval`` seconds, so a hot entry
costs a write at most once per interval rather than once per hit. Running totals are kept by
triggers in the same transactions as the rows, so every process sees the same totals and the
size check costs one row read.

A file that is not a usable database (garbage, a corrupt page) is never deleted or
rewritten: the cache reports it once (``msgflux.cache`` logger, with the path) and calls
answer without it. Delete the file to start afresh.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

__all__ = ["SQLiteCache", "default_cache_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    size INTEGER NOT NULL,
    expires REAL,
    used REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_use ON entries (used);
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    entries INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals VALUES (0, 0, 0);
CREATE TRIGGER IF NOT EXISTS entries_added AFTER INSERT ON entries BEGIN
    UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.size WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS entries_removed AFTER DELETE ON entries BEGIN
    UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.size WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS entries_resized AFTER UPDATE OF size ON entries BEGIN
    UPDATE totals SET bytes = bytes + NEW.size - OLD.size WHERE id = 0;
END;
"""

# An upsert, not INSERT OR REPLACE: REPLACE deletes without firing the delete trigger.
_PUT = """
INSERT INTO entries (key, value, size, expires, used) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    value = excluded.value, size = excluded.size, expires = excluded.expires,
    used = excluded.used
"""


def default_cache_path() -> Path:
    """``$XDG_CACHE_HOME/msgflux/responses.sqlite3`` (``~/.cache/msgflux/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "msgflux" / "responses.sqlite3"


class SQLiteCache:
    """Encoded answers in a SQLite file (``cache="disk"``).

    Args:
        path: The database file (created with its directory); default
            ``default_cache_path()``.
        max_bytes: Bound on the stored answers' total size; least recently used go first.
        max_entries: Bound on the number of entries (``None``: only ``max_bytes``).
        ttl: Default lifetime of an entry in seconds (``None``: until evicted).
        busy_timeout: Seconds a write waits for another process's write to finish.
        touch_interval: A hit refreshes the entry's last-use time when it is older than this.
    """

    process_local = False

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_bytes: int = 1 << 30,
        max_entries: int | None = None,
        ttl: float | None = None,
        busy_timeout: float = 5.0,
        touch_interval: float = 60.0,
    ) -> None:
        for name, bound in (("max_bytes", max_bytes), ("max_entries", max_entries)):
            if bound is not None and (
                isinstance(bound, bool) or not isinstance(bound, int) or bound < 1
            ):
                raise ValueError(f"`{name}` must be a positive integer, got {bound!r}")
        self.path = Path(path).expanduser() if path is not None else default_cache_path()
        self.failure_hint = (
            f"if {self.path} is corrupt (not a database, malformed), delete it to start afresh"
        )
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.ttl = ttl
        self.busy_timeout = busy_timeout
        self.touch_interval = touch_interval
        self._connection: sqlite3.Connection | None = None
        self._closer: weakref.finalize[Any, Any] | None = None
        # One connection per process, used under a lock: SQLite calls take microseconds, and
        # WAL lets other processes read while this one writes.
        self._lock = threading.Lock()

    # -- the protocol --------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        with self._lock:
            db = self._db()
            row = db.execute(
                "SELECT value, expires, used FROM entries WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            value, expires, used = row
            now = time.time()
            if expires is not None and expires <= now:
                db.execute("DELETE FROM entries WHERE key = ? AND expires <= ?", (key, now))
                return None
            if now - used >= self.touch_interval:
                db.execute("UPDATE entries SET used = ? WHERE key = ?", (now, key))
            return bytes(value)

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        size = len(value) + len(key)
        if size > self.max_bytes:
            return  # would evict everything and still not fit
        ttl = self.ttl if ttl is None else ttl
        now = time.time()
        expires = None if ttl is None else now + ttl
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(_PUT, (key, value, size, expires, now))
                self._evict(db, now)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def delete(self, key: str) -> None:
        with self._lock:
            self._db().execute("DELETE FROM entries WHERE key = ?", (key,))

    def clear(self) -> None:
        with self._lock:
            self._db().execute("DELETE FROM entries")

    def stats(self) -> dict[str, Any]:
        with self._lock:
            entries, size = (
                self._db().execute("SELECT entries, bytes FROM totals WHERE id = 0").fetchone()
            )
        return {
            "maxsize": self.max_entries,
            "currsize": entries,
            "bytes": size,
            "max_bytes": self.max_bytes,
            "path": str(self.path),
        }

    def close(self) -> None:
        """Close this process's connection (the next call opens it again)."""
        with self._lock:
            if self._closer is not None:
                self._closer()
            self._connection = self._closer = None

    def __repr__(self) -> str:
        return f"SQLiteCache({str(self.path)!r})"

    # -- internals -----------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        """The connection, opened (and the schema made) on first use."""
        if self._connection is None:
            import sqlite3  # here: only disk caches pay for the import

            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # transactions are explicit (BEGIN IMMEDIATE)
                check_same_thread=False,  # used under self._lock from any thread
            )
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; it is a cache
                db.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
            except BaseException:
                db.close()
                raise
            self._connection = db
            self._closer = weakref.finalize(self, db.close)
        return self._connection

    def _evict(self, db: sqlite3.Connection, now: float) -> None:
        """Inside the writing transaction: drop expired entries, then the least recently used
        until both bounds hold."""
        if self._excess(db) == (0, 0):
            return
        db.execute("DELETE FROM entries WHERE expires IS NOT NULL AND expires <= ?", (now,))
        over_count, over_bytes = self._excess(db)
        doomed = []
        for key, entry_size in db.execute("SELECT key, size FROM entries ORDER BY used, key"):
            if over_count <= 0 and over_bytes <= 0:
                break
            doomed.append((key,))
            over_count -= 1
            over_bytes -= entry_size
        db.executemany("DELETE FROM entries WHERE key = ?", doomed)

    def _excess(self, db: sqlite3.Connection) -> tuple[int, int]:
        """``(entries, bytes)`` over the bounds (0 when within)."""
        entries, size = db.execute("SELECT entries, bytes FROM totals WHERE id = 0").fetchone()
        over_count = entries - self.max_entries if self.max_entries is not None else 0
        return max(over_count, 0), max(size - self.max_bytes, 0)
