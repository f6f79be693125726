"""Command-line wiring: click options in, core functions called, reports out."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from promptbudget import __version__, diag, memo
from promptbudget.errors import EXIT_COUNT, EXIT_OVER, PromptBudgetError
from promptbudget.report import REPORTERS

# github-report's choices: when to comment, and on what.
COMMENT_MODES = ("auto", "always", "never")
COMMENT_ON = ("always", "changes", "failure")

FORMATS = tuple(REPORTERS)
COUNTING_SETTINGS = (
    "offline",
    "strict",
    "no_cache",
    "jobs",
    "max_retries",
    "max_wait",
    "timeout",
)


def warn(message: str) -> None:
    click.echo(f"promptbudget: warning: {message}", err=True)
    journal = memo.CURRENT["journal"]
    if journal is not None:
        journal.spoiled = True  # a replay would not repeat the warning


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
            if diag.LEVEL["verbose"] >= 2:
                import traceback

                traceback.print_exc()
            click.echo(
                f"promptbudget: internal error: {type(exc).__name__}: {exc} "
                "(run with -vv for details and report it)",
                err=True,
            )
            ctx.exit(EXIT_COUNT)


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options every counting command takes: the format and how to count."""
    func = count_options(func)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="text",
        show_default=True,
        help="Report format.",
    )(func)


# --format for the commands whose reports are text or JSON only.
text_or_json = click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="Report format.",
)


def output_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "-o",
        "--output",
        metavar="FILE",
        help="Write the report to FILE instead of standard output.",
    )(func)


def count_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options that say where budgets.yaml is and how to count."""
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
            "--max-retries",
            type=click.IntRange(0, 10),
            default=2,
            show_default=True,
            help="Retries of a failed count request (the SDK's, with backoff).",
        ),
        click.option(
            "--max-wait",
            type=click.FloatRange(0),
            default=60.0,
            show_default=True,
            metavar="SECONDS",
            help="Longest retry-after to wait for; past it the count is estimated.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(0.1),
            default=60.0,
            show_default=True,
            metavar="SECONDS",
            help="Time limit for one count request; past it, it is retried.",
        ),
        click.option(
            "-v", "--verbose", count=True, help="-v for info, -vv for debug, on stderr."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _setup_logging(verbose: int) -> None:
    """-v for info, -vv for debug, on stderr; logging loads only when asked for."""
    diag.LEVEL["verbose"] = verbose
    if verbose == 0:
        return
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("promptbudget: %(levelname)s: %(message)s"))
    root = logging.getLogger("promptbudget")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)
    root.propagate = False


def _counter(settings: dict[str, Any]) -> Any:
    """A Counter from the counting options; the SDK is imported only if used."""
    from promptbudget.api import ApiCounter
    from promptbudget.cache import CountCache, cache_dir
    from promptbudget.counting import Counter, CountOptions
    from promptbudget.progress import progress_for

    env = dict(os.environ)
    _choose_estimator(env)
    cache = None if settings["no_cache"] else CountCache(cache_dir(env), warn)
    options = CountOptions(
        offline=settings["offline"], strict=settings["strict"], jobs=settings["jobs"]
    )

    def api() -> ApiCounter:
        return ApiCounter(
            env,
            max_retries=settings["max_retries"],
            max_wait=settings["max_wait"],
            timeout=settings["timeout"],
        )

    return Counter(env, options, cache, api, warn, progress_for(env))


def _choose_estimator(env: dict[str, str]) -> None:
    """PROMPTBUDGET_ESTIMATOR=heuristic|ctok|auto picks the offline estimator."""
    if env.get("PROMPTBUDGET_ESTIMATOR"):
        from promptbudget import estimate

        estimate.choose(env["PROMPTBUDGET_ESTIMATOR"])


def _emit(
    report: Any, fmt: str, output: str | None = None, remember: bool = False
) -> None:
    document = REPORTERS[fmt](report)
    code = EXIT_OVER if report.failed() else 0
    if remember and not output and _replayable(report):
        memo.remember(
            memo.CURRENT["key"],
            memo.CURRENT["journal"],
            document,
            code,
            dict(os.environ),
        )
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
    if code:
        sys.exit(code)


def _replayable(report: Any) -> bool:
    """A run a replay can repeat word for word: no warning, nothing counted now."""
    journal = memo.CURRENT["journal"]
    return (
        journal is not None
        and not journal.spoiled
        and all(row.exact and row.source in ("cache", "lock") for row in report.rows)
    )


def _read_stdin() -> str:
    """Standard input as UTF-8 text, refused as a file would be when it is not."""
    from promptbudget.tree import decode_text

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text-only stream: already decoded
        return sys.stdin.read()
    return decode_text(stream.read(), "stdin")


def with_counter(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the counting options into logging setup and a Counter argument."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        _setup_logging(kwargs.pop("verbose"))
        settings = {name: kwargs.pop(name) for name in COUNTING_SETTINGS}
        return func(counter=_counter(settings), **kwargs)

    return wrapper


def counting_command(func: Callable[..., Any]) -> Callable[..., Any]:
    return common_options(with_counter(func))


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
@click.option(
    "--locked",
    is_flag=True,
    help="Exit 1 when the lockfile is stale (a request changed, its entry did not).",
)
@click.option(
    "--explain", is_flag=True, help="Break each feature's count down by part."
)
@click.option(
    "--verify-lock",
    is_flag=True,
    help="Recount every lockfile entry with the API and report any that differ.",
)
@output_option
@counting_command
def check(
    files: tuple[str, ...],
    locked: bool,
    explain: bool,
    verify_lock: bool,
    output: str | None,
    fmt: str,
    config_path: str | None,
    counter: Any,
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
    journal = memo.CURRENT["journal"]
    ws = run.find_workspace(cwd, config_path, journal)
    selected = [_relative(ws.root, cwd, f) for f in files] if files else None
    report = run.check(
        ws,
        counter,
        selected,
        warn=warn,
        locked=locked,
        verify_lock=verify_lock,
        explain=explain,
        journal=journal,
    )
    _emit(report, fmt, output, remember=journal is not None)


@cli.command()
@click.argument("base", required=False)
@click.option(
    "--explain",
    is_flag=True,
    help="Break each changed feature down by part: which file grew, by how much.",
)
@output_option
@counting_command
def diff(
    base: str | None,
    explain: bool,
    output: str | None,
    fmt: str,
    config_path: str | None,
    counter: Any,
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
    _emit(run.diff(ws, counter, ref, warn, explain=explain), fmt, output)


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
@with_counter
def github_report(
    base: str | None,
    comment: str,
    comment_on: str,
    warnings_fail: bool,
    json_report: str | None,
    config_path: str | None,
    counter: Any,
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

    env = dict(os.environ)
    try:
        ws = run.find_workspace(Path.cwd(), config_path)
        report = run.diff(ws, counter, base or _default_base(), warn)
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


@cli.command()
@click.argument("targets", nargs=-1)
@click.option(
    "-m",
    "--model",
    "models",
    multiple=True,
    metavar="MODEL",
    help="Model to count for; repeat for several (default: budgets.yaml's models, "
    "else claude-sonnet-4-6).",
)
@click.option(
    "--as",
    "shape",
    type=click.Choice(("message", "system", "tools")),
    default="message",
    show_default=True,
    help="Count each target as one user message, a system prompt, or tool definitions.",
)
@counting_command
def count(
    targets: tuple[str, ...],
    models: tuple[str, ...],
    shape: str,
    fmt: str,
    config_path: str | None,
    counter: Any,
) -> None:
    """Count the tokens of files, references or stdin, per model.

    TARGET is a file, a reference such as app/prompts.py::SYSTEM, or - for
    stdin (the default when no TARGET is given). Each is counted as one user
    message unless --as says otherwise.

    \b
    Examples:
      promptbudget count prompts/answer.md
      promptbudget count -m claude-haiku-4-5 -m claude-opus-4-8 app/prompts.py::SYSTEM
      git show HEAD~1:prompts/a.md | promptbudget count -m claude-haiku-4-5 -
    """
    from promptbudget import adhoc, run
    from promptbudget.report import render_count_json, render_count_text

    if fmt not in ("text", "json"):
        raise click.UsageError("count prints --format text or json")
    cwd = Path.cwd()
    specs = list(targets) or ["-"]
    stdin_text = _read_stdin() if "-" in specs else None
    root = gitutil_root(cwd)
    chosen = list(models) or adhoc.default_models(
        run.config_models(cwd, config_path, warn)
    )
    loaded = adhoc.load_targets(specs, shape, root, cwd, stdin_text)
    rows = adhoc.count_targets(loaded, chosen, shape, counter)
    total = adhoc.totals(rows) if len(loaded) > 1 else []
    render = render_count_json if fmt == "json" else render_count_text
    click.echo(render(rows, total), nl=False)


@cli.command()
@counting_command
def lock(fmt: str, config_path: str | None, counter: Any) -> None:
    """Write the lockfile named in budgets.yaml from exact counts.

    Needs ANTHROPIC_API_KEY. Commit the lockfile: check and diff then use its
    entries as exact counts where no key is available (fork pull requests,
    laptops), as long as the request they were counted for is unchanged.

    \b
    Examples:
      promptbudget lock
      promptbudget check --locked
    """
    from promptbudget import run

    ws = run.find_workspace(Path.cwd(), config_path)
    path, entries = run.lock(ws, counter)
    click.echo(f"wrote {path} ({entries} entries)")


def gitutil_root(cwd: Path) -> Path:
    from promptbudget import gitutil

    return (gitutil.toplevel(cwd) or cwd).resolve()


@cli.command()
@text_or_json
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="budgets.yaml to mark coverage from (default: found in this folder or "
    "a parent; none is needed).",
)
@click.option(
    "-v", "--verbose", count=True, help="-v for info, -vv for debug, on stderr."
)
def discover(fmt: str, config_path: str | None, verbose: int) -> None:
    """List every system prompt, tool list, template and Messages API call.

    Files are read statically (Python through ast, never imported or run);
    git decides which files (tracked, and untracked but not ignored), and
    discover.paths and discover.exclude in budgets.yaml narrow it. Artifacts
    that no feature of budgets.yaml covers are marked unbudgeted. Token
    counts are offline estimates (~).

    \b
    Examples:
      promptbudget discover
      promptbudget discover --format json
    """
    from promptbudget.discovery_report import REPORTERS as DISCOVERY_REPORTERS
    from promptbudget.inventory import discover_job
    from promptbudget.unbudgeted import estimate_text

    _setup_logging(verbose)
    _choose_estimator(dict(os.environ))
    inventory = discover_job(Path.cwd(), config_path, estimate_text, warn)
    click.echo(DISCOVERY_REPORTERS[fmt](inventory), nl=False)


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing budgets.yaml.")
@text_or_json
@count_options
@with_counter
def init(force: bool, fmt: str, config_path: str | None, counter: Any) -> None:
    """Write a budgets.yaml proposal from the Messages API calls found.

    Each call site becomes a feature named after its enclosing function, with
    the system prompts, tools and message templates it sends, its model and
    max_tokens where they are literal, and an allowance for every slot. Each
    feature is counted as check counts it (exact with ANTHROPIC_API_KEY, else
    estimated); its budget is that count plus 25%, rounded up to the next 100.
    The file is written at the repository root unless --config says where;
    an existing one is kept unless --force is given.

    \b
    Examples:
      promptbudget init
      promptbudget init --offline --config services/chat/budgets.yaml
      promptbudget init --force
    """
    from promptbudget.init_report import REPORTERS as INIT_REPORTERS
    from promptbudget.proposal import init_job

    proposal = init_job(Path.cwd(), config_path, force, counter, warn)
    click.echo(INIT_REPORTERS[fmt](proposal), nl=False)


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
    """Run the command line (the console script replays first: see entry.py)."""
    cli(prog_name="promptbudget")
