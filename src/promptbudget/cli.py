"""Command-line wiring: click options in, core functions called, reports out."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from promptbudget import __version__
from promptbudget.errors import EXIT_COUNT, EXIT_OVER, PromptBudgetError
from promptbudget.github import COMMENT_MODES, COMMENT_ON
from promptbudget.report import REPORTERS

log = logging.getLogger("promptbudget")

FORMATS = tuple(REPORTERS)


def warn(message: str) -> None:
    click.echo(f"promptbudget: warning: {message}", err=True)


class Group(click.Group):
    """Turns the project's errors into one line on stderr and their exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PromptBudgetError as exc:
            click.echo(f"promptbudget: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("promptbudget: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            log.debug("internal error", exc_info=True)
            click.echo(
                f"promptbudget: internal error: {type(exc).__name__}: {exc} "
                "(run with -vv for details and report it)",
                err=True,
            )
            ctx.exit(EXIT_COUNT)


def report_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options of commands that print a report."""
    options = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            default="text",
            show_default=True,
            help="Report format.",
        ),
        click.option(
            "-o",
            "--output",
            metavar="FILE",
            help="Write the report to FILE instead of standard output.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options every counting command takes."""
    return report_options(count_options(func))


def count_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options that say how to count."""
    options = [
        click.option(
            "--config",
            "config_path",
            metavar="PATH",
            help="budgets.yaml to use (default: found in this folder or a parent).",
        ),
        click.option(
            "--offline", is_flag=True, help="Never call the API; estimate every count."
        ),
        click.option(
            "--strict", is_flag=True, help="Exit 3 unless every count is exact."
        ),
        click.option(
            "--no-cache", is_flag=True, help="Neither read nor write the count cache."
        ),
        click.option(
            "-j",
            "--jobs",
            type=click.IntRange(1, 64),
            default=8,
            show_default=True,
            help="Count requests sent at once.",
        ),
        click.option(
            "-v", "--verbose", count=True, help="-v for info, -vv for debug, on stderr."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _setup_logging(verbose: int) -> None:
    level = (
        logging.WARNING
        if verbose == 0
        else logging.INFO
        if verbose == 1
        else logging.DEBUG
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("promptbudget: %(levelname)s: %(message)s"))
    root = logging.getLogger("promptbudget")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _counter(offline: bool, strict: bool, no_cache: bool, jobs: int) -> Any:
    from promptbudget.api import ApiCounter
    from promptbudget.cache import CountCache, cache_dir
    from promptbudget.counting import Counter, CountOptions

    env = dict(os.environ)
    cache = None if no_cache else CountCache(cache_dir(env), warn)
    options = CountOptions(offline=offline, strict=strict, jobs=jobs)
    return Counter(env, options, cache, lambda: ApiCounter(env), warn)


def _emit(report: Any, fmt: str, output: str | None) -> None:
    document = REPORTERS[fmt](report)
    if output and output != "-":
        try:
            Path(output).write_text(document, encoding="utf-8")
        except OSError as exc:
            raise PromptBudgetError(
                f"{output}: cannot write the report ({exc.strerror}); "
                "give --output a writable path"
            ) from None
    else:
        click.echo(document, nl=False)
    if any(row.status == "over" for row in report.rows):
        sys.exit(EXIT_OVER)


def counting_command(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        _setup_logging(kwargs.pop("verbose"))
        return func(**kwargs)

    return common_options(wrapper)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="promptbudget")
def cli() -> None:
    """Token budgets for the prompts your LLM features send.

    Describe each feature in budgets.yaml; promptbudget counts its input
    tokens per model with Anthropic's count_tokens endpoint (or offline
    estimates without ANTHROPIC_API_KEY) and fails when a budget is exceeded.

    Exit codes: 0 within budget, 1 a budget exceeded, 2 usage or configuration
    error, 3 could not count.
    """


@cli.command()
@click.argument("files", nargs=-1, type=click.Path())
@counting_command
def check(
    files: tuple[str, ...],
    fmt: str,
    output: str | None,
    config_path: str | None,
    offline: bool,
    strict: bool,
    no_cache: bool,
    jobs: int,
) -> None:
    """Count every feature and compare it with its budget.

    With FILES (as pre-commit passes them), only the features that read one of
    them are counted; budgets.yaml among them means all features.

    \b
    Examples:
      promptbudget check
      promptbudget check --offline --format json
      promptbudget check prompts/answer.md
    """
    from promptbudget import run

    cwd = Path.cwd()
    ws = run.find_workspace(cwd, config_path)
    selected = [_relative(ws.root, cwd, f) for f in files] if files else None
    counter = _counter(offline, strict, no_cache, jobs)
    _emit(run.check(ws, counter, selected), fmt, output)


@cli.command()
@click.argument("base", required=False)
@counting_command
def diff(
    base: str | None,
    fmt: str,
    output: str | None,
    config_path: str | None,
    offline: bool,
    strict: bool,
    no_cache: bool,
    jobs: int,
) -> None:
    """Compare token counts at BASE's merge base with the working tree.

    BASE defaults to the pull request's base in GitHub Actions
    (origin/$GITHUB_BASE_REF), else main. Files at the base are read through
    git; nothing is checked out.

    \b
    Examples:
      promptbudget diff
      promptbudget diff origin/main --format json
    """
    from promptbudget import run

    ws = run.find_workspace(Path.cwd(), config_path)
    ref = base or _default_base()
    counter = _counter(offline, strict, no_cache, jobs)
    _emit(run.diff(ws, counter, ref, warn), fmt, output)


@cli.command("github-report")
@click.argument("base", required=False)
@click.option(
    "--comment",
    type=click.Choice(COMMENT_MODES),
    default="auto",
    show_default=True,
    help="Post one sticky PR comment: auto skips it where the token is read-only.",
)
@click.option(
    "--comment-on",
    type=click.Choice(COMMENT_ON),
    default="always",
    show_default=True,
    help="When to start a comment; an existing one is always kept current.",
)
@click.option(
    "--warnings-fail", is_flag=True, help="Fail on features past warn_at too."
)
@click.option(
    "--json-report",
    metavar="FILE",
    help="Where to write the JSON report (default: $RUNNER_TEMP).",
)
@count_options
def github_report(
    base: str | None,
    comment: str,
    comment_on: str,
    warnings_fail: bool,
    json_report: str | None,
    verbose: int,
    **count: Any,
) -> None:
    """Run diff for a GitHub Actions pull request check.

    Writes the markdown report to $GITHUB_STEP_SUMMARY, annotations on the
    artifacts that grew, step outputs to $GITHUB_OUTPUT, and one sticky
    comment on the pull request (GITHUB_TOKEN, GITHUB_API_URL). BASE defaults
    to origin/$GITHUB_BASE_REF. The action in action.yml runs this.

    \b
    Examples:
      promptbudget github-report
      promptbudget github-report --comment-on changes --warnings-fail
    """
    from promptbudget import github, run

    _setup_logging(verbose)
    env = dict(os.environ)
    try:
        ws = run.find_workspace(Path.cwd(), count.pop("config_path"))
        report = run.diff(ws, _counter(**count), base or _default_base(), warn)
    except PromptBudgetError as exc:
        github.publish_error(str(exc), env, sys.stdout)
        raise
    options = github.ActionOptions(
        comment=comment,
        comment_on=comment_on,
        warnings_fail=warnings_fail,
        json_report=Path(json_report) if json_report else None,
        config_path=ws.config_path,
    )
    sys.exit(github.publish(report, options, env, sys.stdout).exit_code)


def _default_base() -> str:
    github_base = os.environ.get("GITHUB_BASE_REF")
    return f"origin/{github_base}" if github_base else "main"


def _relative(root: Path, cwd: Path, name: str) -> str:
    path = (cwd / name).absolute()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return Path(os.path.relpath(path, root)).as_posix()


def main() -> None:
    cli(prog_name="promptbudget")
