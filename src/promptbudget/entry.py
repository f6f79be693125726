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

    run_cli()
