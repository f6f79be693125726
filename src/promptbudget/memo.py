"""Replay a `check` whose inputs have not changed, without loading the tool.

A pre-commit hook runs `promptbudget check` on every commit, and most of the
time nothing it reads has changed and every count is cached. Such a run is
remembered: the command line, the working directory, the environment that
matters, and every input it looked at (each file read, with its SHA-256; each
existence probe; each glob's matches; the file list discovery took from git),
beside the report it printed. The next identical command first re-checks those
inputs; when all still match, it prints the same report and exits with the
same code, having imported little more than hashlib and sqlite3.

Only runs that sent no request, printed no warning and had only exact counts
(cache or lockfile) are remembered, so a replay prints exactly what a full run
would. Anything else (any change, a new file matching a glob, another
promptbudget version) makes the full run happen, which records anew.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
from typing import Any

# Options after `check` that a replay may serve, and whether each takes a value.
REPLAYABLE = {
    "--offline": False,
    "--strict": False,
    "--locked": False,
    "--explain": False,
    "--format": True,
    "--config": True,
    "-j": True,
    "--jobs": True,
    "--max-retries": True,
    "--max-wait": True,
    "--timeout": True,
}
ENVIRONMENT = (
    "ANTHROPIC_BASE_URL",
    "PROMPTBUDGET_ESTIMATOR",
    "NO_COLOR",
)
TABLE = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    inputs TEXT NOT NULL,
    output TEXT NOT NULL,
    exit_code INTEGER NOT NULL
)
"""


class Journal:
    """Every input one run looked at, to tell later whether any changed."""

    def __init__(self) -> None:
        self.reads: dict[str, str] = {}
        self.probes: dict[str, bool] = {}
        self.globs: dict[str, list[str]] = {}
        self.listings: dict[str, list[str]] = {}
        self.spoiled = False  # a warning, a request, an estimate: do not replay

    def read(self, path: str, data: bytes) -> None:
        self.reads[os.path.abspath(path)] = hashlib.sha256(data).hexdigest()

    def probe(self, path: str, kind: str, found: bool) -> None:
        self.probes[f"{kind}:{os.path.abspath(path)}"] = found

    def glob(self, root: str, pattern: str, matches: list[str]) -> None:
        self.globs[json.dumps([os.path.abspath(root), pattern])] = matches

    def listing(self, root: str, files: list[str]) -> None:
        """The repository's files as git listed them, for discovery."""
        self.listings[os.path.abspath(root)] = files

    def document(self) -> str:
        return json.dumps(
            {
                "reads": self.reads,
                "probes": self.probes,
                "globs": self.globs,
                "listings": self.listings,
            },
            sort_keys=True,
        )


# The journal of the run in progress, set by the entry point for `check` only.
CURRENT: dict[str, Any] = {"journal": None, "key": None}


def replayable(argv: list[str]) -> bool:
    """Whether this command line is a `check` a replay may answer."""
    if not argv or argv[0] != "check":
        return False
    expect_value = False
    for token in argv[1:]:
        if expect_value:
            expect_value = False
            continue
        if token == "--":
            return False
        if token.startswith("-"):
            name = token.split("=", 1)[0]
            if name not in REPLAYABLE:
                return False
            expect_value = REPLAYABLE[name] and "=" not in token
    return not expect_value


def run_key(argv: list[str], env: dict[str, str] | os._Environ[str]) -> str:
    """What must be equal for two runs to print the same report."""
    from promptbudget import __file__ as package_init

    package = os.path.dirname(package_init)
    signature = []
    for folder in (package, os.path.join(package, "data")):
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_file():
                    stat = entry.stat()
                    signature.append([entry.name, stat.st_size, stat.st_mtime_ns])
    material = {
        "argv": argv,
        "cwd": os.getcwd(),
        "env": {name: env.get(name) for name in ENVIRONMENT},
        "key": bool(env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN")),
        "python": sys.version,
        "package": signature,
    }
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()


def database(env: dict[str, str] | os._Environ[str]) -> str:
    """The count cache's file, where runs are remembered too."""
    if env.get("PROMPTBUDGET_CACHE_DIR"):
        folder = env["PROMPTBUDGET_CACHE_DIR"]
    elif env.get("XDG_CACHE_HOME"):
        folder = os.path.join(env["XDG_CACHE_HOME"], "promptbudget")
    else:
        folder = os.path.join(os.path.expanduser("~"), ".cache", "promptbudget")
    return os.path.join(folder, "counts.sqlite3")


def replay(key: str, env: dict[str, str] | os._Environ[str]) -> tuple[str, int] | None:
    """The remembered (output, exit code) when every input is unchanged."""
    path = database(env)
    if not os.path.isfile(path):
        return None
    try:
        db = sqlite3.connect(path, timeout=5)
        try:
            row = db.execute(
                "SELECT inputs, output, exit_code FROM runs WHERE key = ?", (key,)
            ).fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return None
    if row is None or not _unchanged(json.loads(row[0])):
        return None
    return row[1], int(row[2])


def _unchanged(inputs: dict[str, Any]) -> bool:
    for probe, found in inputs["probes"].items():
        kind, path = probe.split(":", 1)
        check = os.path.isfile if kind == "file" else os.path.isdir
        if kind == "exists":
            check = os.path.exists
        if check(path) != found:
            return False
    for path, digest in inputs["reads"].items():
        try:
            with open(path, "rb") as handle:
                if hashlib.sha256(handle.read()).hexdigest() != digest:
                    return False
        except OSError:
            return False
    for spec, matches in inputs["globs"].items():
        root, pattern = json.loads(spec)
        from pathlib import Path

        found = sorted(
            p.relative_to(root).as_posix()
            for p in Path(root).glob(pattern)
            if p.is_file()
        )
        if found != matches:
            return False
    for root, files in inputs.get("listings", {}).items():
        if _git_files(root) != files:
            return False
    return True


def _git_files(root: str) -> list[str] | None:
    """Tracked and untracked-not-ignored files, as discovery listed them."""
    from promptbudget.errors import GitError
    from promptbudget.gitutil import listed_files

    try:
        return listed_files(root)
    except (GitError, OSError):
        return None


def remember(
    key: str, journal: Journal, output: str, exit_code: int, env: dict[str, str]
) -> None:
    """Keep a run for replay; a failure to keep it changes nothing."""
    path = database(env)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        db = sqlite3.connect(path, timeout=5, isolation_level=None)
        try:
            db.execute(TABLE)
            db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?)",
                (key, journal.document(), output, exit_code),
            )
        finally:
            db.close()
    except (OSError, sqlite3.DatabaseError):
        pass
