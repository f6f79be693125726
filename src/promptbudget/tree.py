"""Read files of one revision of the repository: the working tree or a commit.

Every path is repository-relative and POSIX-style. Nothing outside the
repository root is ever read: `..` that climbs out, absolute paths and
symbolic links that leave the tree are refused, so a pull request cannot make
promptbudget send a file from the machine it runs on to the API.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from promptbudget.errors import ConfigError, GitError
from promptbudget.gitutil import listed_files, run_git

if TYPE_CHECKING:
    from promptbudget.memo import Journal

# The count_tokens endpoint rejects requests over 32 MB; refuse larger files
# before reading them whole.
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_LINK_HOPS = 16


class Tree(Protocol):
    """One revision's files."""

    label: str

    def read_bytes(self, path: str) -> bytes: ...

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def glob(self, pattern: str) -> list[str]: ...

    def list_files(self) -> list[str]: ...


def join_inside(base_dir: str, reference_path: str, *, origin: str) -> str:
    """Join a reference's path to base_dir, refusing anything that leaves the root."""
    if not reference_path:
        raise ConfigError(f"{origin}: empty path")
    if reference_path.startswith(("/", "\\")) or _has_drive(reference_path):
        raise ConfigError(
            f"{origin}: '{reference_path}' is an absolute path; "
            "use a path relative to budgets.yaml inside the repository"
        )
    joined = posixpath.normpath(posixpath.join(base_dir, reference_path))
    if joined == ".." or joined.startswith("../"):
        raise ConfigError(
            f"{origin}: '{reference_path}' points outside the repository root; "
            "promptbudget reads only files inside the repository"
        )
    if ".git" in joined.split("/"):
        raise ConfigError(
            f"{origin}: '{reference_path}' is inside .git, git's own data (in CI "
            "it can hold the checkout's token); reference a file of the project"
        )
    return "" if joined == "." else joined


def _has_drive(path: str) -> bool:
    return len(path) > 1 and path[1] == ":" and path[0].isalpha()


def text_of(tree: Tree, path: str) -> str:
    """A file's text, as UTF-8; a clear error for binary or other encodings."""
    return decode_text(tree.read_bytes(path), path)


def decode_text(data: bytes, path: str) -> str:
    """Bytes read from path as UTF-8 text; a clear error for binary or other data."""
    if b"\x00" in data[:8192]:
        raise ConfigError(f"{path}: is a binary file, not text; reference a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: is not valid UTF-8; save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


class WorkTree:
    """The files on disk under root."""

    def __init__(self, root: Path, journal: Journal | None = None) -> None:
        self.root = root.resolve()
        self.label = "working tree"
        self._folders: dict[str, str] = {}
        self.journal = journal  # records what was read, for memo's replay

    def _real(self, path: str) -> Path:
        folder, name = posixpath.split(path)
        candidate = os.path.join(self._real_folder(folder), name) if name else folder
        if not name or os.path.islink(candidate):
            candidate = os.path.realpath(os.path.join(self.root, path))
        real = Path(candidate)
        if real != self.root and self.root not in real.parents:
            raise ConfigError(
                f"{path}: resolves outside the repository root (a symbolic link?); "
                "promptbudget reads only files inside the repository"
            )
        return real

    def _real_folder(self, folder: str) -> str:
        """A folder's real path, resolved once: discovery reads thousands of files."""
        found = self._folders.get(folder)
        if found is None:
            found = os.path.realpath(os.path.join(self.root, folder))
            self._folders[folder] = found
        return found

    def is_file(self, path: str) -> bool:
        found = self._real(path).is_file()
        if self.journal is not None:
            self.journal.probe(str(self.root / path), "file", found)
        return found

    def is_dir(self, path: str) -> bool:
        found = self._real(path).is_dir()
        if self.journal is not None:
            self.journal.probe(str(self.root / path), "dir", found)
        return found

    def read_bytes(self, path: str) -> bytes:
        real = self._real(path)
        if real.is_dir():
            raise ConfigError(f"{path}: is a directory; reference a file inside it")
        if not real.is_file():
            raise ConfigError(f"{path}: no such file")
        size = real.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{path}: is {size:,} bytes, over the 32 MB the count_tokens "
                "endpoint accepts; reference a smaller file"
            )
        data = real.read_bytes()
        if self.journal is not None:
            self.journal.read(str(self.root / path), data)
        return data

    def glob(self, pattern: str) -> list[str]:
        matches = []
        for found in sorted(self.root.glob(pattern)):
            rel = found.relative_to(self.root).as_posix()
            if ".git" in rel.split("/"):
                continue
            if found.is_file() and self._inside(found):
                matches.append(rel)
        if self.journal is not None:
            self.journal.glob(str(self.root), pattern, matches)
        return matches

    def _inside(self, path: Path) -> bool:
        real = Path(os.path.realpath(path))
        return self.root in real.parents

    def list_files(self) -> list[str]:
        """Tracked and untracked-but-not-ignored files, as git lists them.

        Outside a git repository, every file below root except hidden folders.
        """
        try:
            listed = listed_files(self.root)
        except GitError:
            if self.journal is not None:
                self.journal.spoiled = True  # a walk is not worth re-checking
            return self._walk()
        if self.journal is not None:
            self.journal.listing(str(self.root), listed)
        return listed

    def _walk(self) -> list[str]:
        found = []
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            base = Path(folder).relative_to(self.root).as_posix()
            for name in files:
                found.append(name if base == "." else f"{base}/{name}")
        return sorted(found)


class GitTree:
    """The files of one commit, read through git without checking anything out."""

    def __init__(self, root: Path, commit: str, label: str) -> None:
        self.root = root
        self.commit = commit
        self.label = label
        self._entries: dict[str, tuple[str, str, str]] | None = None

    def _listing(self) -> dict[str, tuple[str, str, str]]:
        if self._entries is None:
            out = run_git(
                ["ls-tree", "-r", "-z", "--full-tree", self.commit], self.root
            )
            entries = {}
            for record in out.split(b"\x00"):
                if not record:
                    continue
                meta, _, name = record.partition(b"\t")
                mode, kind, oid = meta.decode().split()
                entries[name.decode("utf-8", "surrogateescape")] = (mode, kind, oid)
            self._entries = entries
        return self._entries

    def _follow(self, path: str) -> str:
        """Resolve symbolic links inside the commit; refuse ones that leave it."""
        for _ in range(MAX_LINK_HOPS):
            entry = self._listing().get(path)
            if entry is None or entry[0] != "120000":
                return path
            target = run_git(["cat-file", "blob", entry[2]], self.root).decode()
            if target.startswith("/"):
                raise ConfigError(
                    f"{path}: is a symbolic link to an absolute path at {self.label}; "
                    "promptbudget reads only files inside the repository"
                )
            path = join_inside(posixpath.dirname(path), target, origin=path)
        raise ConfigError(f"{path}: too many levels of symbolic links")

    def is_file(self, path: str) -> bool:
        entry = self._listing().get(self._follow(path))
        return entry is not None and entry[1] == "blob"

    def is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return any(name.startswith(prefix) for name in self._listing())

    def read_bytes(self, path: str) -> bytes:
        real = self._follow(path)
        entry = self._listing().get(real)
        if entry is None:
            if self.is_dir(real):
                raise ConfigError(
                    f"{path}: is a directory at {self.label}; reference a file"
                )
            raise ConfigError(f"{path}: no such file at {self.label}")
        size = int(run_git(["cat-file", "-s", entry[2]], self.root).decode())
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{path}: is {size:,} bytes at {self.label}, over the 32 MB the "
                "count_tokens endpoint accepts"
            )
        return run_git(["cat-file", "blob", entry[2]], self.root)

    def glob(self, pattern: str) -> list[str]:
        return sorted(
            name
            for name, (mode, kind, _) in self._listing().items()
            if kind == "blob" and mode != "120000" and glob_match(name, pattern)
        )

    def list_files(self) -> list[str]:
        return sorted(
            name
            for name, (mode, kind, _) in self._listing().items()
            if kind == "blob" and mode != "120000"
        )


def glob_match(name: str, pattern: str) -> bool:
    """pathlib-style matching: `*` stays within a folder, `**/` spans folders."""
    return _glob_regex(pattern).fullmatch(name) is not None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts))
