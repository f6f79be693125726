"""Exact counts, cached in SQLite by the hash of the canonical request.

Only exact counts from the API are stored. Several processes may write at
once (pre-commit runs hooks in parallel): SQLite's WAL journal and a busy
timeout serialise them. A file that is not a usable database is set aside
and rebuilt, with a warning; a cache that cannot be opened at all is skipped.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from promptbudget import diag
from promptbudget.templates import Template

FILE_NAME = "counts.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL CHECK (input_tokens >= 0),
    counted_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS templates (
    key TEXT PRIMARY KEY,
    slots TEXT NOT NULL,
    rendered TEXT NOT NULL
);
"""


def cache_dir(env: Mapping[str, str]) -> Path:
    """$PROMPTBUDGET_CACHE_DIR, else $XDG_CACHE_HOME/promptbudget, else ~/.cache."""
    if env.get("PROMPTBUDGET_CACHE_DIR"):
        return Path(env["PROMPTBUDGET_CACHE_DIR"])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "promptbudget"
    return Path.home() / ".cache" / "promptbudget"


class CountCache:
    def __init__(self, directory: Path, warn: Callable[[str], None]) -> None:
        self.path = directory / FILE_NAME
        self.warn = warn
        self._db: sqlite3.Connection | None = None
        self._broken = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None or self._broken:
            return self._db
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open()
            diag.info("count cache %s", self.path)
        except sqlite3.DatabaseError:
            self._set_aside()
        except OSError as exc:
            self.warn(
                f"cache {self.path} cannot be used ({exc.strerror}); "
                "counting without it"
            )
            self._broken = True
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            db.execute("SELECT count(*) FROM counts WHERE key = ''").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _set_aside(self) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{FILE_NAME}.corrupt-{stamp}-{os.getpid()}")
        try:
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                stale = Path(str(self.path) + suffix)
                if stale.exists():
                    os.replace(stale, Path(str(aside) + suffix))
            self.warn(
                f"cache {self.path} was corrupt; moved it to {aside.name} "
                "and started anew"
            )
            self._db = self._open()
        except (OSError, sqlite3.DatabaseError) as exc:
            self.warn(f"cache {self.path} is unusable ({exc}); counting without it")
            self._broken = True

    def get_many(self, keys: Iterable[str]) -> dict[str, int]:
        wanted = list(dict.fromkeys(keys))
        db = self._connect()
        if db is None or not wanted:
            return {}
        found: dict[str, int] = {}
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT key, input_tokens FROM counts WHERE key IN ({marks})",
                    chunk,
                )
                found.update({key: int(tokens) for key, tokens in rows})
        except sqlite3.DatabaseError as exc:
            self.warn(f"cache read failed ({exc}); counting without it")
            return {}
        return found

    def put_many(self, rows: Iterable[tuple[str, str, int]]) -> None:
        entries = [(key, model, tokens, time.time()) for key, model, tokens in rows]
        db = self._connect()
        if db is None or not entries:
            return
        try:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT OR REPLACE INTO counts VALUES (?, ?, ?, ?)", entries
                )
        except sqlite3.DatabaseError as exc:
            self.warn(f"cache write failed ({exc}); counts were not saved")

    def get_template(self, key: str) -> Template | None:
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute(
                "SELECT slots, rendered FROM templates WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.DatabaseError:
            return None
        if row is None:
            return None
        slots = tuple(name for name in row[0].split("\n") if name)
        return Template(slots, row[1])

    def put_template(self, key: str, template: Template) -> None:
        db = self._connect()
        if db is None:
            return
        try:
            db.execute(
                "INSERT OR REPLACE INTO templates VALUES (?, ?, ?)",
                (key, "\n".join(template.slots), template.rendered),
            )
        except sqlite3.DatabaseError as exc:
            self.warn(f"cache write failed ({exc}); template not saved")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
