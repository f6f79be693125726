"""Judge each count against its feature's budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from promptbudget.config import DEFAULT_MARGIN, Budget
from promptbudget.request import Assembly

STATUSES = ("ok", "warn", "over", "error")


@dataclass
class Row:
    """One feature on one model: its count, its budget and the verdict."""

    feature: str
    model: str
    input_tokens: int | None
    reserved_tokens: int
    exact: bool
    source: str | None
    max_input_tokens: int | None
    status: str = "ok"
    base_input_tokens: int | None = None
    base_exact: bool | None = None
    delta: int | None = None
    change: str | None = None  # diff only: same, changed, new, removed
    reasons: list[str] = field(default_factory=list)
    location: tuple[str, int] | None = None
    # diff only: the first artifact that differs from the base (else budgets.yaml)
    changed_at: tuple[str, int] | None = None
    max_tokens: int | None = None
    cost_per_call: float | None = None
    base_cost_per_call: float | None = None
    base_model: str | None = None  # diff: the model the base called, if it moved
    # --explain: (part, base tokens or None, head tokens or None), and whether exact
    parts: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    parts_exact: bool = True
    # An estimate close enough to its limit that the verdict could be wrong.
    uncertain: bool = False


def judge(
    row: Row,
    budget: Budget,
    assembly: Assembly | None,
    config_path: str,
    margin: float = DEFAULT_MARGIN,
) -> None:
    """Set row.status and row.reasons from the budget (and the base, in a diff)."""
    tokens = row.input_tokens
    if tokens is None:
        return
    label = f"{row.feature} on {row.model}"
    knob = f"features.{row.feature}.budget"
    fix = _shorten(assembly)
    limit = budget.max_input_tokens

    if limit is not None and tokens > limit:
        row.status = "over"
        row.reasons.append(
            f"{label}: {_n(tokens, row.exact)} > {limit:,} tokens "
            f"(+{tokens - limit:,}); "
            f"{fix}raise {knob}.max_input_tokens in {config_path}"
        )
    elif limit is not None and tokens >= budget.warn_at * limit:
        row.status = "warn"
        row.reasons.append(
            f"{label}: {_n(tokens, row.exact)} of {limit:,} tokens "
            f"({tokens / limit:.0%}), past warn_at {budget.warn_at:.0%}"
        )

    cost_limit = budget.max_cost_per_call
    if cost_limit is not None and row.cost_per_call is not None:
        if row.cost_per_call > cost_limit:
            row.status = "over"
            row.reasons.append(
                f"{label}: ${row.cost_per_call:.4f} per call > ${cost_limit:.4f} "
                f"(input plus max_tokens of output); {fix}lower max_tokens, route "
                f"it to a cheaper model, or raise {knob}.max_cost_per_call in "
                f"{config_path}"
            )

    if limit is not None and not row.exact and abs(tokens - limit) <= margin * limit:
        row.uncertain = True
        side = "over" if tokens > limit else "under"
        row.reasons.append(
            f"{label}: ~{tokens:,} is an estimate within {margin:.0%} of "
            f"{limit:,}, so it may be wrongly {side}; set ANTHROPIC_API_KEY "
            "(or commit a lockfile) for an exact count"
        )

    allowed = _allowed_increase(budget, row.base_input_tokens)
    if allowed is not None and row.delta is not None and row.delta > allowed:
        row.status = "over"
        growth = (
            f" ({row.delta / row.base_input_tokens:+.1%})"
            if row.base_input_tokens
            else ""
        )
        row.reasons.append(
            f"{label}: grew by {row.delta:,} tokens{growth}, over max_increase "
            f"{_increase_text(budget)}; {fix}raise {knob}.max_increase in {config_path}"
        )


def _allowed_increase(budget: Budget, base: int | None) -> int | None:
    increase = budget.max_increase
    if increase is None or base is None:
        return None
    if increase.tokens is not None:
        return increase.tokens
    assert increase.percent is not None
    return int(base * increase.percent)


def _increase_text(budget: Budget) -> str:
    increase = budget.max_increase
    assert increase is not None
    if increase.tokens is not None:
        return f"{increase.tokens:,} tokens"
    assert increase.percent is not None
    return f"{increase.percent:.0%}"


def _shorten(assembly: Assembly | None) -> str:
    if assembly is None:
        return ""
    paths = list(
        dict.fromkeys(
            p.path for p in assembly.parts if p.kind not in ("slot", "routes")
        )
    )
    if not paths:
        return ""
    shown = ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else "")
    return f"shorten {shown} or "


def _n(tokens: int, exact: bool) -> str:
    return f"{tokens:,}" if exact else f"~{tokens:,}"


def summarize(rows: list[Row]) -> dict[str, int]:
    summary = {status: 0 for status in STATUSES}
    for row in rows:
        summary[row.status] += 1
    return summary
