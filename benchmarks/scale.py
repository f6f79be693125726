"""Cold, warm and incremental runs on a generated monorepo (a benchmark, not a test).

    python benchmarks/scale.py [--features 200] [--latency 0.1] [--jobs 8]

Generates a git repository with FEATURES features on three models, starts the
loopback count_tokens server from tests/fakeapi.py with LATENCY seconds per
answer, and runs the installed `promptbudget` beside this Python. Prints:

- cold `check` (empty cache) against the ideal latency x requests / jobs,
  and against --jobs 1;
- warm `check` (everything cached) against `python -c "import click, yaml"`,
  both replayed (nothing changed) and in full (budgets.yaml edited);
- the requests a `diff` sends when one feature changed;
- offline estimate throughput against calling ctok directly (Python 3.12+).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from fakeapi import FakeCountTokensServer  # noqa: E402

MODELS = ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-8"]
SCRIPT = Path(sys.executable).with_name("promptbudget")
PARAGRAPH = (
    "You help customers of an online shop with orders, returns and invoices. "
    "Answer briefly, cite the policy you rely on, and never invent order data. "
)


def generate(root: Path, features: int) -> None:
    """A repository with one system prompt, one template and a tool per feature."""
    lines = ["version: 1", f"models: {json.dumps(MODELS)}", "features:"]
    for i in range(features):
        name = f"feature_{i:03d}"
        prompt = root / "prompts" / f"{name}.md"
        prompt.parent.mkdir(parents=True, exist_ok=True)
        prompt.write_text(f"# {name}\n" + PARAGRAPH * (1 + i % 7), encoding="utf-8")
        template = root / "templates" / f"{name}.j2"
        template.parent.mkdir(parents=True, exist_ok=True)
        template.write_text(
            f"Context for {name}:\n{{{{ context }}}}\nQuestion: {{{{ question }}}}\n",
            encoding="utf-8",
        )
        tool = {
            "name": f"lookup_{i}",
            "description": f"Look up record {i} by id.",
            "input_schema": {
                "type": "object",
                "properties": {"id": {"type": "string"}},
            },
        }
        (root / "tools").mkdir(exist_ok=True)
        (root / "tools" / f"{name}.json").write_text(json.dumps(tool), encoding="utf-8")
        lines += [
            f"  {name}:",
            f"    system: prompts/{name}.md",
            f"    tools: tools/{name}.json",
            f"    messages: [{{role: user, template: templates/{name}.j2}}]",
            "    slots: {context: 2000, question: 200}",
            "    budget: {max_input_tokens: 100000}",
        ]
    (root / "budgets.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "generated")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
    return elapsed


def median_of(cmd: list[str], cwd: Path, env: dict[str, str], runs: int = 15) -> float:
    return statistics.median(timed(cmd, cwd, env) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--skip-serial", action="store_true", help="skip --jobs 1")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="promptbudget-bench-"))
    repo = work / "repo"
    repo.mkdir()
    generate(repo, args.features)
    requests = args.features * len(MODELS)
    rows = []

    with FakeCountTokensServer(latency=args.latency) as server:
        env = {
            **os.environ,
            "ANTHROPIC_API_KEY": "sk-ant-bench",
            "ANTHROPIC_BASE_URL": server.base_url,
            "CI": "true",
        }

        def fresh_cache(name: str) -> dict[str, str]:
            return {**env, "PROMPTBUDGET_CACHE_DIR": str(work / name)}

        check = [str(SCRIPT), "check", "--jobs", str(args.jobs)]
        cold = timed(check, repo, fresh_cache("cold"))
        ideal = args.latency * requests / args.jobs
        rows.append(
            (
                "cold check",
                f"{cold:.2f} s",
                f"ideal {ideal:.2f} s",
                f"{cold / ideal:.2f}x",
            )
        )
        if not args.skip_serial:
            serial = timed(
                [str(SCRIPT), "check", "--jobs", "1"], repo, fresh_cache("serial")
            )
            rows.append(
                (
                    "cold check --jobs 1",
                    f"{serial:.2f} s",
                    f"jobs {args.jobs} is {serial / cold:.1f}x faster",
                    "",
                )
            )

        warm = median_of(check, repo, fresh_cache("cold"))
        baseline = median_of([sys.executable, "-c", "import click, yaml"], repo, env)
        rows.append(
            (
                "warm check (median of 15)",
                f"{warm * 1000:.0f} ms",
                f"import click, yaml {baseline * 1000:.0f} ms",
                f"{warm / baseline:.2f}x",
            )
        )

        budgets = repo / "budgets.yaml"
        original = budgets.read_text()
        runs = []
        for i in range(15):  # an edited budgets.yaml: no replay, every count cached
            budgets.write_text(original + f"# edit {i}\n")
            runs.append(timed(check, repo, fresh_cache("cold")))
        budgets.write_text(original)
        rows.append(
            (
                "cached check, inputs edited",
                f"{statistics.median(runs) * 1000:.0f} ms",
                "full run, nothing sent",
                f"{statistics.median(runs) / baseline:.2f}x",
            )
        )

        prompt = repo / "prompts" / "feature_007.md"
        prompt.write_text(prompt.read_text() + "Always thank the customer.\n")
        before = server.count_requests()
        timed([str(SCRIPT), "diff", "main"], repo, fresh_cache("cold"))
        sent = server.count_requests() - before
        rows.append(
            (
                "diff, one feature changed",
                f"{sent} requests",
                f"{len(MODELS)} models x 1 feature",
                "",
            )
        )

    rows.extend(offline_throughput(repo, work))
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    print(
        f"{args.features} features x {len(MODELS)} models = {requests} requests, "
        f"{args.latency * 1000:.0f} ms latency, --jobs {args.jobs}"
    )
    for row in rows:
        print("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)).rstrip())


def offline_throughput(repo: Path, work: Path) -> list[tuple[str, str, str, str]]:
    texts = [p.read_text() for p in sorted((repo / "prompts").glob("*.md"))]
    from promptbudget import estimate

    estimate.estimate_message(texts[0], "claude-sonnet-4-6")  # load the vocabulary
    start = time.perf_counter()
    for text in texts:
        estimate.estimate_message(text, "claude-sonnet-4-6")
    ours = len(texts) / (time.perf_counter() - start)
    row = (
        "offline estimates",
        f"{ours:,.0f} texts/s",
        f"with {estimate.estimator_name()}",
        "",
    )
    try:
        import ctok
    except ImportError:
        return [row]
    ctok.token_count(texts[0], "3.0")
    start = time.perf_counter()
    for text in texts:
        ctok.token_count(text, "3.0")
    direct = len(texts) / (time.perf_counter() - start)
    return [
        row,
        ("ctok directly", f"{direct:,.0f} texts/s", f"ours {ours / direct:.2f}x", ""),
    ]


if __name__ == "__main__":
    main()
