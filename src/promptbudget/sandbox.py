"""A jinja2 sandbox that also bounds what a template may cost to render.

jinja2's sandbox stops a template from reaching Python objects, but not from
asking for ten billion characters (`{{ 'x' * 10**10 }}`) or for loops inside
loops that never end. A pull request can put such a template anywhere in a
repository, and discovery reads every template, so rendering here is bounded:
sizes asked for in arithmetic, calls and filters, the length of the output,
and the time taken (on the main thread, where a timer can interrupt it).

Imported only when a template is parsed, since it loads jinja2.
"""

from __future__ import annotations

import math
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

# Larger sizes than a prompt template has any use for.
MAX_TIMES = 10_000  # any whole number given to a call or filter
MAX_REPEAT = 1_000_000  # characters or items made by `*`
MAX_OUTPUT = 32 * 2**20  # the count_tokens endpoint takes 32 MB
MAX_SECONDS = 5.0
WIDE_FORMAT = re.compile(r"\d{6,}")  # `{:>9999999}` or `%9999999s`


class TooSlow(Exception):
    """Rendering took longer than MAX_SECONDS."""


class BoundedEnvironment(SandboxedEnvironment):
    """The sandbox, with every size a template can ask for capped."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {
            name: _bounded(name, function) for name, function in self.filters.items()
        }

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and _whole(times):
                    if len(seq) * times > MAX_REPEAT:
                        raise SecurityError(
                            f"'*' would make {len(seq) * times:,} items"
                        )
        elif operator == "**":
            if _whole(left) and _whole(right) and right > 0:
                if math.log10(abs(left) + 1) * right > 1000:
                    raise SecurityError("'**' would make a number over 1,000 digits")
        elif operator == "%" and isinstance(left, str):
            if WIDE_FORMAT.search(left):
                raise SecurityError("a '%' format asks for a width over 100,000")
            values = right if isinstance(right, tuple) else (right,)
            _check_arguments("a '%' format", values, {})  # `'%*s' % (width, text)`
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_arguments(f"{getattr(__obj, '__name__', 'a call')}()", args, kwargs)
        # The sandbox hands str.format over wrapped; the text is the method's own.
        method = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str) and WIDE_FORMAT.search(owner):
            raise SecurityError("a format asks for a width over 100,000")
        return super().call(__context, __obj, *args, **kwargs)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_arguments(name: str, args: Any, kwargs: Any) -> None:
    for value in (*args, *kwargs.values()):
        if _whole(value) and abs(value) > MAX_TIMES:
            raise SecurityError(f"{name} was given {value:,}, over {MAX_TIMES:,}")


def _bounded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    # jinja2 reads these markers to pass the environment or context first.
    markers = ("jinja_pass_arg", "jinja_async_variant")
    # The arguments after the value filtered (and the context, if passed).
    first = 2 if hasattr(function, "jinja_pass_arg") else 1

    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(f"filter {name}()", args[first:], kwargs)
        return function(*args, **kwargs)

    for marker in markers:
        if hasattr(function, marker):
            setattr(bounded, marker, getattr(function, marker))
    return bounded


def render(template: Any, context: dict[str, Any]) -> str:
    """Render within MAX_OUTPUT characters and MAX_SECONDS."""
    pieces = []
    size = 0
    with _deadline(MAX_SECONDS):
        for piece in template.generate(context):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise SecurityError(
                    f"the output passes {MAX_OUTPUT // 2**20} MB, more than the "
                    "count_tokens endpoint accepts"
                )
            pieces.append(piece)
    return "".join(pieces)


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt the block after seconds, where a timer signal can (main thread)."""
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TooSlow

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
