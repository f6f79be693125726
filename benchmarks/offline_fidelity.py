"""How close `promptbudget count --offline` comes to recorded count_tokens answers.

Usage::

    python benchmarks/offline_fidelity.py /path/to/recorded-counts \\
        [--estimator auto|ctok|heuristic]

The folder holds ``rosetta_holdout.jsonl.gz`` (one JSON object a line with
``id`` and ``text``) and ``rosetta_holdout_counts.json`` (per family, the model
asked and its ``input_tokens`` per id, each for one user message whose content
is the text). The texts are written to a temporary folder, counted there by the
installed command (one run per family, every text a target), and deleted;
nothing of the data is kept.

For each family the script prints the number of texts, exact matches, and the
distribution of the relative error (estimate - recorded) / recorded.

It then measures anchored estimates, as `diff` makes them for a text change
with no key: for each pair of texts (base X, head Y) taken in id order, the
head is reported as recorded(X) + estimate(Y) - estimate(X) and compared with
recorded(Y). Unrelated texts are the hard case for anchoring: its errors cancel
when base and head share most of their text. So, where ctok is installed, it
also edits each text (base X, head X plus half of the next text) and compares
the heuristic, plain and anchored, with ctok's count of the head.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TEXTS = "rosetta_holdout.jsonl.gz"
COUNTS = "rosetta_holdout_counts.json"
SCRIPT = Path(sys.executable).with_name("promptbudget")


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


def count_offline(
    texts: dict[str, str], model: str, estimator: str
) -> tuple[dict[str, int], str]:
    """Each text's offline count from the installed command, by id."""
    with tempfile.TemporaryDirectory(prefix="promptbudget-fidelity-") as folder:
        names = []
        for text_id, text in texts.items():
            (Path(folder) / f"{text_id}.txt").write_text(text, encoding="utf-8")
            names.append(f"{text_id}.txt")
        env = {
            **os.environ,
            "PROMPTBUDGET_ESTIMATOR": estimator,
            "PROMPTBUDGET_CACHE_DIR": folder,
        }
        env.pop("ANTHROPIC_API_KEY", None)
        done = subprocess.run(
            [
                str(SCRIPT),
                "count",
                "--offline",
                "--no-cache",
                "-m",
                model,
                "--format",
                "json",
                *names,
            ],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
        )
    if done.returncode != 0:
        sys.exit(f"promptbudget count failed: {done.stderr.strip()}")
    rows = json.loads(done.stdout)["results"]
    which = "ctok" if estimator == "ctok" else estimator
    return {
        row["target"].removesuffix(".txt"): row["input_tokens"] for row in rows
    }, which


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
    anchored: list[tuple[str, str, list[tuple[int, int]]]] = []
    print(
        f"promptbudget count --offline, estimator {args.estimator} "
        f"(python {sys.version.split()[0]})"
    )
    for family, spec in counts.items():
        model = spec["model"]
        wanted = {i: texts[i] for i in spec["counts"] if i in texts}
        estimates, _ = count_offline(wanted, model, args.estimator)
        pairs = [(estimates[i], int(spec["counts"][i])) for i in wanted]
        if pairs:
            print(summarize(family, model, pairs))
            anchored.append((family, model, anchor_pairs(estimates, spec["counts"])))
    for family, model, pairs in anchored:
        print("anchored " + summarize(family, model, pairs))
    edits(texts, counts)
    return 0


def edits(texts: dict[str, str], counts: dict[str, dict]) -> None:
    """Heuristic plain and anchored on appended text, against ctok's count."""
    try:
        import ctok  # noqa: F401
    except ImportError:
        return
    from promptbudget import estimate

    for family, spec in counts.items():
        model = spec["model"]
        ids = sorted(i for i in spec["counts"] if i in texts)
        plain, anchored = [], []
        for x, y in zip(ids, ids[1:], strict=False):
            base, head = texts[x], texts[x] + "\n\n" + texts[y][: len(texts[y]) // 2]
            estimate.choose("ctok")
            truth_base = estimate.estimate_message(base, model)
            truth_head = estimate.estimate_message(head, model)
            estimate.choose("heuristic")
            guess_base = estimate.estimate_message(base, model)
            guess_head = estimate.estimate_message(head, model)
            plain.append((guess_head, truth_head))
            anchored.append((truth_base + guess_head - guess_base, truth_head))
        estimate.choose("auto")
        print("edit, heuristic " + summarize(family, model, plain))
        print("edit, anchored  " + summarize(family, model, anchored))


def anchor_pairs(
    estimates: dict[str, int], recorded: dict[str, int]
) -> list[tuple[int, int]]:
    """(anchored head, recorded head) for consecutive texts as base and head."""
    ids = sorted(i for i in estimates if i in recorded)
    return [
        (int(recorded[x]) + estimates[y] - estimates[x], int(recorded[y]))
        for x, y in zip(ids, ids[1:], strict=False)
    ]


if __name__ == "__main__":
    raise SystemExit(main())
