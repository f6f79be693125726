"""The console script: replay an unchanged `check`, else run the command line."""

from __future__ import annotations

import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    from promptbudget import memo

    if memo.replayable(argv):
        key = memo.run_key(argv, os.environ)
        remembered = memo.replay(key, os.environ)
        if remembered is not None:
            output, code = remembered
            sys.stdout.write(output)
            sys.stdout.flush()
            raise SystemExit(code)
        memo.CURRENT["key"] = key
        memo.CURRENT["journal"] = memo.Journal()

    from promptbudget.cli import main as run_cli

    try:
        run_cli()
    except SystemExit as done:
        _finish(done.code)
    _finish(0)


def _finish(code: object) -> None:
    """Exit; after a run that loaded the SDK, without tearing its modules down.

    Unloading the anthropic SDK's few thousand classes at interpreter exit
    takes longer than a hundred ms and does nothing useful: every count is
    already in the cache (committed) and every report written. So once the
    output is flushed, such a run ends at once with the same exit status.
    """
    if "anthropic" not in sys.modules:
        raise SystemExit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    import logging

    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        status = status or 1
    os._exit(status)
