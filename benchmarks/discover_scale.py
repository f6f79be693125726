"""discover on a generated repository, against `git ls-files` (a benchmark, not a test).

    python benchmarks/discover_scale.py [--files 5000] [--prompts 300] [--runs 7]

Generates a git repository of FILES files, PROMPTS of which hold prompts in
the shapes discovery looks for (prompt files, Python constants with a Messages
API call, YAML agent configs with tools, Jinja templates); the rest is
ordinary code, documentation and data, a third of it containing words that
make discovery parse it. Runs the installed `promptbudget discover` beside
this Python and `git ls-files` on the same tree, and prints their medians
and ratio, the time of discovery itself in-process, and whether every
planted artifact was found.
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

SCRIPT = Path(sys.executable).with_name("promptbudget")
SHAPES = ("prompt_file", "python_call", "yaml_agent", "jinja")
PARAGRAPH = (
    "Answer questions about the warehouse inventory. Quote stock levels "
    "exactly, name the bin location, and say when a count is older than a day. "
)


def generate(root: Path, files: int, prompts: int) -> int:
    """Write the repository; return how many artifacts were planted in it."""
    planted = 0
    for i in range(prompts):
        planted += _prompt(root, i, SHAPES[i % len(SHAPES)])
    for i in range(files - _count(root)):
        _ordinary(root, i)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "generated")
    return planted


def _count(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _prompt(root: Path, i: int, shape: str) -> int:
    """One file holding prompts; the number of artifacts it plants."""
    group = f"svc{i % 12:02d}"
    if shape == "prompt_file":
        _write(root / "prompts" / group / f"task_{i}.md", PARAGRAPH * (1 + i % 5))
        return 1
    if shape == "python_call":
        _write(
            root / "services" / group / f"agent_{i}.py",
            "import anthropic\n\n"
            f"SYSTEM_PROMPT = {PARAGRAPH * (1 + i % 3)!r}\n\n\n"
            "def answer(client: anthropic.Anthropic, question: str) -> str:\n"
            "    reply = client.messages.create(\n"
            '        model="claude-haiku-4-5",\n'
            "        max_tokens=512,\n"
            "        system=SYSTEM_PROMPT,\n"
            '        messages=[{"role": "user", "content": f"Question: {question}"}],\n'
            "    )\n"
            "    return reply.content[0].text\n",
        )
        return 3  # the system prompt, the message template, the call
    if shape == "yaml_agent":
        tool = {
            "name": f"lookup_{i}",
            "description": "Look up a stock record by SKU.",
            "input_schema": {
                "type": "object",
                "properties": {"sku": {"type": "string"}},
            },
        }
        _write(
            root / "agents" / f"agent_{i}.yaml",
            f"name: agent_{i}\nsystem_prompt: {json.dumps(PARAGRAPH)}\n"
            f"tools: [{json.dumps(tool)}]\n",
        )
        return 2
    _write(
        root / "services" / group / "templates" / f"answer_{i}.j2",
        "{% for row in rows %}{{ row.sku }}: {{ row.count }}\n{% endfor %}"
        "Question: {{ question }}\n",
    )
    return 1


def _ordinary(root: Path, i: int) -> None:
    """Code, docs and data with no prompt in them."""
    kind = i % 10
    package = root / "src" / f"pkg{i % 40:02d}"
    if kind < 6:
        words = "messages" if i % 3 == 0 else "values"
        _write(
            package / f"module_{i}.py",
            '"""Helpers for batch jobs."""\n\nimport json\nimport os\n\n'
            f"LIMIT = {i}\nNAME = 'job_{i}'\n\n\n"
            f"def load_{words}(path: str) -> list[dict]:\n"
            "    with open(path, encoding='utf-8') as handle:\n"
            "        return [json.loads(line) for line in handle]\n\n\n"
            f"class Job{i}:\n"
            "    def __init__(self, root: str) -> None:\n"
            "        self.root = os.path.abspath(root)\n\n"
            "    def run(self) -> int:\n"
            f"        return len(load_{words}(self.root)) + LIMIT\n",
        )
    elif kind < 8:
        _write(
            root / "docs" / f"page_{i}.md",
            f"# Page {i}\n\nHow the batch job {i} works, step by step.\n",
        )
    elif kind == 8:
        _write(
            root / "data" / f"record_{i}.json",
            json.dumps({"id": i, "values": list(range(20)), "ok": True}),
        )
    else:
        _write(
            root / "config" / f"deploy_{i}.yaml",
            f"service: job-{i}\nreplicas: {1 + i % 4}\nimage: registry/job:{i}\n",
        )


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True)


def _median(
    cmd: list[str], cwd: Path, runs: int, env: dict[str, str] | None = None
) -> tuple[float, str]:
    times = []
    out = ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
        out = done.stdout
    return statistics.median(times), out


def _in_process(root: Path, runs: int) -> float:
    from promptbudget.config import DiscoverSettings
    from promptbudget.discovery import discover
    from promptbudget.tree import WorkTree

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        discover(WorkTree(root), DiscoverSettings(), warn=lambda _: None)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--prompts", type=int, default=300)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="promptbudget-discover-")) / "repo"
    root.mkdir()
    planted = generate(root, args.files, args.prompts)
    listed, names = _median(["git", "ls-files"], root, args.runs)
    command = [str(SCRIPT), "discover", "--format", "json"]
    found, document = _median(command, root, 3)
    heuristic = {**os.environ, "PROMPTBUDGET_ESTIMATOR": "heuristic"}
    light, _ = _median(command, root, 3, heuristic)
    inside = _in_process(root, args.runs)
    artifacts = json.loads(document)["artifacts"]

    print(f"repository: {len(names.splitlines()):,} files, {args.prompts} with prompts")
    print(f"git ls-files                {listed * 1000:8.1f} ms")
    print(f"promptbudget discover       {found * 1000:8.1f} ms  {found / listed:6.0f}x")
    print(f"  with heuristic estimates  {light * 1000:8.1f} ms  {light / listed:6.0f}x")
    print(
        f"  discovery alone, in-process {inside * 1000:6.1f} ms  "
        f"{inside / listed:6.0f}x"
    )
    print(
        f"artifacts found {len(artifacts)} of {planted} planted "
        f"({sum(1 for a in artifacts if a['kind'] != 'call')} estimated)"
    )
    print("(medians: git ls-files and in-process of --runs, the command of 3)")


if __name__ == "__main__":
    main()
