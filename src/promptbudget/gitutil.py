"""The few git questions promptbudget asks, each one subprocess call."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from promptbudget.errors import GitError

if TYPE_CHECKING:
    from promptbudget.memo import Journal


def run_git(args: list[str], cwd: Path, *, binary: bool = False) -> bytes:
    """Run git with a fixed argument list; raise GitError with git's own words."""
    import subprocess  # not needed by runs that ask git nothing

    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit {done.returncode}"
        raise GitError(f"git {args[0]} failed in {cwd}: {detail}")
    return done.stdout


def listed_files(root: Path | str) -> list[str]:
    """Tracked and untracked-but-not-ignored files under root, as git lists them."""
    out = run_git(
        ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], Path(root)
    )
    names = out.decode("utf-8", "surrogateescape").split("\x00")
    return sorted({name for name in names if name})


def toplevel(path: Path, journal: Journal | None = None) -> Path | None:
    """The work tree root that contains path, or None outside a repository.

    Found by looking for .git (a folder, or a file in worktrees and
    submodules) in path and its parents: no subprocess on every run.
    """
    here = path.absolute()
    for folder in (here, *here.parents):
        found = (folder / ".git").exists()
        if journal is not None:
            journal.probe(str(folder / ".git"), "exists", found)
        if found:
            return folder
    return None


def resolve_commit(root: Path, ref: str) -> str | None:
    """The commit a ref names, or None when it names none."""
    if ref.startswith("-"):
        raise GitError(f"'{ref}' is not a valid base ref: refs cannot start with '-'")
    try:
        out = run_git(
            [
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                f"{ref}^{{commit}}",
            ],
            root,
        )
    except GitError:
        return None
    return out.decode().strip() or None


def merge_base(root: Path, a: str, b: str) -> str | None:
    try:
        out = run_git(["merge-base", a, b], root)
    except GitError:
        return None
    return out.decode().strip() or None


def is_shallow(root: Path) -> bool:
    out = run_git(["rev-parse", "--is-shallow-repository"], root)
    return out.decode().strip() == "true"


def has_head(root: Path) -> bool:
    return resolve_commit(root, "HEAD") is not None
