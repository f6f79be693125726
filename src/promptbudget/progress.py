"""A progress bar on stderr for long cold runs, drawn by rich.

Shown only on an interactive terminal outside CI and only when more than a
handful of requests must be sent, so logs, pipes and JSON never carry it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

MIN_REQUESTS = 6


class RichProgress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._bar: Any = None
        self._task: Any = None

    def start(self, total: int) -> None:
        if total < MIN_REQUESTS:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("counting with count_tokens"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        self._task = self._bar.add_task("count", total=total)
        self._bar.start()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def progress_for(
    env: Mapping[str, str], stream: TextIO = sys.stderr
) -> RichProgress | None:
    """A progress bar when stream is a terminal and this is not CI; else None."""
    if env.get("CI") or not stream.isatty():
        return None
    return RichProgress(stream)
