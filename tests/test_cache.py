"""The count cache: shared by concurrent processes, durable, self-repairing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from promptbudget.cache import FILE_NAME, CountCache, cache_dir

from project import Project

SCRIPT = Path(sys.executable).with_name("promptbudget")


def test_cache_dir_precedence(tmp_path):
    assert cache_dir({"PROMPTBUDGET_CACHE_DIR": "/a", "XDG_CACHE_HOME": "/b"}) == Path(
        "/a"
    )
    assert cache_dir({"XDG_CACHE_HOME": "/b"}) == Path("/b/promptbudget")
    assert cache_dir({}) == Path.home() / ".cache" / "promptbudget"


def test_round_trip_and_no_duplicates(tmp_path):
    cache = CountCache(tmp_path, lambda message: None)
    cache.put_many([("k1", "m", 10), ("k2", "m", 20)])
    cache.put_many([("k1", "m", 10)])
    assert cache.get_many(["k1", "k2", "k3"]) == {"k1": 10, "k2": 20}
    rows = sqlite3.connect(tmp_path / FILE_NAME).execute("SELECT count(*) FROM counts")
    assert rows.fetchone() == (2,)


def test_corrupt_cache_is_set_aside_and_rebuilt(tmp_path):
    (tmp_path / FILE_NAME).write_bytes(b"this is not a database" * 100)
    warnings: list[str] = []

    cache = CountCache(tmp_path, warnings.append)
    cache.put_many([("k", "m", 5)])

    assert cache.get_many(["k"]) == {"k": 5}
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"cache {tmp_path / FILE_NAME} was corrupt; moved it to "
    )
    aside = [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1
    assert (tmp_path / aside[0]).read_bytes().startswith(b"this is not a database")


def test_unwritable_cache_dir_counts_without_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    warnings: list[str] = []
    cache = CountCache(blocker / "sub", warnings.append)
    cache.put_many([("k", "m", 5)])
    assert cache.get_many(["k"]) == {}
    assert len(warnings) == 1 and "counting without it" in warnings[0]


def project_with_features(root: Path, features: int) -> Project:
    project = Project(root).init()
    lines = ["version: 1", "models: [claude-haiku-4-5, claude-sonnet-4-6]", "features:"]
    for i in range(features):
        project.write(f"prompts/p{i}.md", f"Prompt number {i}. " * (i + 1) + "\n")
        lines.append(f"  f{i}: {{system: prompts/p{i}.md}}")
    project.write("budgets.yaml", "\n".join(lines) + "\n")
    return project


def test_eight_processes_share_one_cache(tmp_path, fake_api):
    projects = [project_with_features(tmp_path / f"repo{i}", 12) for i in range(8)]
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": "sk-ant-test-0000",
        "ANTHROPIC_BASE_URL": fake_api.base_url,
        "PROMPTBUDGET_CACHE_DIR": str(tmp_path / "shared-cache"),
    }
    fake_api.latency = 0.01

    running = [
        subprocess.Popen(
            [str(SCRIPT), "check", "--format", "json"],
            cwd=p.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in projects
    ]
    outputs = [process.communicate(timeout=120) for process in running]

    assert [process.returncode for process in running] == [0] * 8
    assert all(stderr == "" for _, stderr in outputs)
    first = [r["input_tokens"] for r in json.loads(outputs[0][0])["results"]]
    assert all(
        [r["input_tokens"] for r in json.loads(out)["results"]] == first
        for out, _ in outputs
    )
    db = sqlite3.connect(tmp_path / "shared-cache" / FILE_NAME)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT count(*) FROM counts").fetchone() == (24,)
    # every count is now cached: a ninth run sends nothing
    sent = fake_api.count_requests()
    again = subprocess.run(
        [str(SCRIPT), "check"],
        cwd=projects[0].root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0
    assert fake_api.count_requests() == sent


def test_a_process_killed_mid_run_leaves_a_usable_cache(tmp_path, fake_api):
    project = project_with_features(tmp_path / "repo", 40)
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": "sk-ant-test-0000",
        "ANTHROPIC_BASE_URL": fake_api.base_url,
        "PROMPTBUDGET_CACHE_DIR": str(tmp_path / "cache"),
    }
    fake_api.latency = 0.05
    victim = subprocess.Popen(
        [str(SCRIPT), "check", "--jobs", "2"],
        cwd=project.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while fake_api.count_requests() < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    fake_api.latency = 0

    result = subprocess.run(
        [str(SCRIPT), "check", "--format", "json"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert {r["source"] for r in json.loads(result.stdout)["results"]} <= {
        "api",
        "cache",
    }
    db = sqlite3.connect(tmp_path / "cache" / FILE_NAME)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
