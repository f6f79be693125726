"""The progress bar: only on a terminal, outside CI, for more than a few requests."""

from __future__ import annotations

import io

from promptbudget.progress import RichProgress, progress_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_in_ci_or_when_piped():
    assert progress_for({"CI": "true"}, Terminal()) is None
    assert progress_for({}, io.StringIO()) is None
    assert isinstance(progress_for({}, Terminal()), RichProgress)


def test_bar_counts_requests_and_is_cleared():
    stream = Terminal()
    bar = RichProgress(stream)

    bar.start(8)
    for _ in range(8):
        bar.advance()
    bar.stop()

    drawn = stream.getvalue()
    assert "counting with count_tokens" in drawn
    assert "8/8" in drawn


def test_few_requests_draw_nothing():
    stream = Terminal()
    bar = RichProgress(stream)
    bar.start(3)
    bar.advance()
    bar.stop()
    assert stream.getvalue() == ""
