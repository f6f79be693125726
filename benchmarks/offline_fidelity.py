"""How close the offline estimate comes to recorded count_tokens answers.

Usage::

    python benchmarks/offline_fidelity.py /path/to/recorded-counts \\
        [--estimator auto|ctok|heuristic]

The folder holds ``rosetta_holdout.jsonl.gz`` (one JSON object a line with
``id`` and ``text``) and ``rosetta_holdout_counts.json`` (per family, the model
asked and its ``input_tokens`` per id, each for one user message whose content
is the text). The data is read from that path only; nothing of it is kept.

For each family the script prints the number of texts, exact matches, and the
distribution of the relative error (estimate - recorded) / recorded, using
``estimate_message`` with the family's model name.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
from pathlib import Path

from promptbudget import estimate

TEXTS = "rosetta_holdout.jsonl.gz"
COUNTS = "rosetta_holdout_counts.json"


def load(folder: Path) -> tuple[dict[str, str], dict[str, dict]]:
    """Texts by id, and the counts document."""
    texts: dict[str, str] = {}
    with gzip.open(folder / TEXTS, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                texts[row["id"]] = row["text"]
    counts = json.loads((folder / COUNTS).read_text(encoding="utf-8"))
    return texts, counts


def choose_estimator(name: str) -> str:
    """Force the estimator the module uses; returns the one in effect."""
    if name == "heuristic":
        # The module checks ctok through this function; answer "absent".
        estimate._ctok_available = lambda: False  # type: ignore[assignment]
    elif name == "ctok" and estimate.estimator_name() != "ctok":
        sys.exit("ctok is not importable here (it needs Python 3.12+)")
    return estimate.estimator_name()


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated quantile of an already sorted list."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def summarize(family: str, model: str, pairs: list[tuple[int, int]]) -> str:
    """One report line for (estimate, recorded) pairs."""
    n = len(pairs)
    exact = sum(1 for est, real in pairs if est == real)
    errors = sorted((est - real) / real for est, real in pairs)
    absolute = [abs(est - real) for est, real in pairs]
    return (
        f"{family:5s} {model:16s} n={n:4d}  exact={exact:4d} ({100 * exact / n:5.1f}%)"
        f"  median={100 * statistics.median(errors):+6.2f}%"
        f"  p10={100 * quantile(errors, 0.1):+6.2f}%"
        f"  p90={100 * quantile(errors, 0.9):+6.2f}%"
        f"  mean|err|={100 * statistics.mean(abs(e) for e in errors):5.2f}%"
        f"  max|err|={100 * max(abs(e) for e in errors):5.1f}%"
        f"  mean|tokens|={statistics.mean(absolute):6.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of recorded counts")
    parser.add_argument(
        "--estimator", choices=("auto", "ctok", "heuristic"), default="auto"
    )
    args = parser.parse_args(argv)

    texts, counts = load(args.folder)
    in_effect = choose_estimator(args.estimator)
    print(f"estimator: {in_effect}  (python {sys.version.split()[0]})")
    for family, spec in counts.items():
        model = spec["model"]
        pairs = [
            (estimate.estimate_message(texts[text_id], model), int(real))
            for text_id, real in spec["counts"].items()
            if text_id in texts
        ]
        if pairs:
            print(summarize(family, model, pairs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
