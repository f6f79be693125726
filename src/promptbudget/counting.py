"""Make every count a run needs: from the cache, the API, or an estimate.

Identical requests are counted once. Exact answers go to the cache; estimates
never do. Fatal API errors (bad key, unknown model) stop the run; transient
ones fall back to an estimate with a warning, unless strict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from promptbudget import diag
from promptbudget.errors import CountError
from promptbudget.request import request_key
from promptbudget.templates import TemplateStore


class TransientCountError(Exception):
    """The endpoint could not answer now; an estimate may stand in."""


def has_credentials(env: Mapping[str, str]) -> bool:
    return bool(env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN"))


@dataclass(frozen=True)
class Count:
    input_tokens: int
    exact: bool
    source: str  # api, cache, estimate


@dataclass(frozen=True)
class Job:
    request: dict[str, Any]
    label: str  # "feature on model", for messages

    @property
    def key(self) -> str:
        return request_key(self.request)


class ExactCounter(Protocol):
    def count(self, request: dict[str, Any], label: str) -> int: ...


class Progress(Protocol):
    """Shows requests as they finish; the CLI's is a rich bar on a terminal."""

    def start(self, total: int) -> None: ...

    def advance(self) -> None: ...

    def stop(self) -> None: ...


class Cache(TemplateStore, Protocol):
    def get_many(self, keys: list[str]) -> dict[str, int]: ...

    def put_many(self, rows: list[tuple[str, str, int]]) -> None: ...


@dataclass
class CountOptions:
    offline: bool = False
    strict: bool = False
    jobs: int = 8


class Counter:
    def __init__(
        self,
        env: Mapping[str, str],
        options: CountOptions,
        cache: Cache | None,
        api: Callable[[], ExactCounter],
        warn: Callable[[str], None],
        progress: Progress | None = None,
    ) -> None:
        self.env = env
        self.options = options
        self.cache = cache
        self.api = api
        self.warn = warn
        self.progress = progress
        # Exact counts from lockfiles, by request key; consulted before the cache.
        self.locked: dict[str, int] = {}

    @property
    def templates(self) -> TemplateStore | None:
        """Where parsed templates are remembered: the count cache, if any."""
        return self.cache

    def count_all(self, jobs: list[Job]) -> dict[str, Count]:
        """A Count for every job's key."""
        unique = {job.key: job for job in jobs}
        counts: dict[str, Count] = {
            key: Count(self.locked[key], True, "lock")
            for key in unique
            if key in self.locked
        }

        if self.cache is not None:
            wanted = [key for key in unique if key not in counts]
            for key, tokens in self.cache.get_many(wanted).items():
                counts[key] = Count(tokens, True, "cache")
        missing = [job for key, job in unique.items() if key not in counts]
        diag.info(
            "%d requests: %d from lockfiles or cache, %d to count",
            len(unique),
            len(unique) - len(missing),
            len(missing),
        )
        if not missing:
            return counts

        if self.options.offline or not has_credentials(self.env):
            self._why_estimates()
            counts.update(self._estimate(missing))
            return counts

        exact, failed = self._ask_api(missing)
        counts.update(
            {key: Count(tokens, True, "api") for key, tokens in exact.items()}
        )
        if self.cache is not None and exact:
            self.cache.put_many(
                [
                    (key, unique[key].request["model"], tokens)
                    for key, tokens in exact.items()
                ]
            )
        if failed:
            counts.update(self._estimate(failed))
        return counts

    def recount(self, jobs: list[Job]) -> dict[str, int]:
        """Exact counts straight from the API, past lockfile and cache.

        Used to write and to verify lockfiles: any count that cannot be made
        exactly is an error (exit 3), never an estimate.
        """
        if self.options.offline or not has_credentials(self.env):
            raise CountError(
                "writing or verifying the lockfile needs exact counts; "
                "set ANTHROPIC_API_KEY (and drop --offline)"
            )
        unique = list({job.key: job for job in jobs}.values())
        strict, self.options.strict = self.options.strict, True
        try:
            exact, _ = self._ask_api(unique)
        finally:
            self.options.strict = strict
        if self.cache is not None:
            self.cache.put_many(
                [(job.key, job.request["model"], exact[job.key]) for job in unique]
            )
        return exact

    def _collect(self, finished: Any) -> list[tuple[Job, int | None, str | None]]:
        results = []
        for result in finished:
            results.append(result)
            if self.progress is not None:
                self.progress.advance()
        return results

    def estimate(self, request: dict[str, Any]) -> int:
        from promptbudget import estimate

        return estimate.estimate_request(request)

    def _why_estimates(self) -> None:
        if self.options.strict:
            reason = (
                "--offline was given"
                if self.options.offline
                else "no ANTHROPIC_API_KEY is set"
            )
            raise CountError(
                f"--strict needs exact counts, but {reason}; set ANTHROPIC_API_KEY "
                "or drop --strict"
            )

    def _ask_api(self, jobs: list[Job]) -> tuple[dict[str, int], list[Job]]:
        counter = self.api()
        exact: dict[str, int] = {}
        failed: list[Job] = []

        def one(job: Job) -> tuple[Job, int | None, str | None]:
            diag.debug("count_tokens for %s, request %s", job.label, job.key[:12])
            try:
                return job, counter.count(job.request, job.label), None
            except TransientCountError as exc:
                return job, None, str(exc)

        from concurrent.futures import ThreadPoolExecutor

        workers = max(1, min(self.options.jobs, len(jobs)))
        if self.progress is not None:
            self.progress.start(len(jobs))
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = self._collect(pool.map(one, jobs))
        finally:
            if self.progress is not None:
                self.progress.stop()
        for job, tokens, problem in results:
            if tokens is not None:
                exact[job.key] = tokens
                continue
            if self.options.strict:
                raise CountError(
                    f"count_tokens failed for {job.label} ({problem}) and --strict "
                    "allows no estimate; retry later"
                )
            self.warn(
                f"count_tokens failed for {job.label} ({problem}); using an estimate"
            )
            failed.append(job)
        return exact, failed

    def _estimate(self, jobs: list[Job]) -> dict[str, Count]:
        from promptbudget import estimate

        for model in sorted({job.request["model"] for job in jobs}):
            family, known = estimate.family_for(model)
            if not known:
                self.warn(
                    f"model '{model}' is not in the tokenizer map; estimating it "
                    f"with the newest family ({family})"
                )
        return {
            job.key: Count(estimate.estimate_request(job.request), False, "estimate")
            for job in jobs
        }
