"""Discovery on fixture repositories shaped like real LLM projects.

Each folder under tests/fixtures is a small repository written for this
project; its `.expected` file lists what a reader finds in it (kind and
path:line), written by reading the files. Discovery must find exactly that,
every reference it prints must resolve back to the same text, and nothing
it scans may run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promptbudget.artifacts import Artifact
from promptbudget.config import DiscoverSettings
from promptbudget.discovery import Discovery, discover
from promptbudget.refs import parse_reference, resolve, resolve_tools
from promptbudget.tree import WorkTree

from project import Project

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def fixture_repo(tmp_path: Path, name: str) -> Project:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    project = Project(root).init()
    project.commit("fixture")
    return project


def expected(name: str) -> set[str]:
    lines = (FIXTURES / f"{name}.expected").read_text().splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def run(
    root: Path, settings: DiscoverSettings | None = None
) -> tuple[Discovery, list[str]]:
    warnings: list[str] = []
    found = discover(
        WorkTree(root), settings or DiscoverSettings(), warn=warnings.append
    )
    return found, warnings


def by_reference(found: Discovery) -> dict[str, Artifact]:
    return {a.reference: a for a in found.artifacts if a.kind != "call"}


def calls(found: Discovery) -> dict[str, dict]:
    """Each call site as plain data: what a reader would write down about it."""
    result = {}
    for a in found.artifacts:
        if a.call is None:
            continue
        site = a.call
        result[f"{a.reference}:{a.line}"] = {
            "method": site.method,
            "model": site.model,
            "max_tokens": site.max_tokens,
            "system": [i.reference or f"slot:{i.slot}" for i in site.system],
            "tools": [i.reference for i in site.tools],
            "messages": [
                (i.role, i.reference or f"slot:{i.slot}") for i in site.messages
            ],
            "unread": site.unread,
        }
    return result


@pytest.mark.parametrize("name", NAMES)
def test_finds_what_a_reader_finds(tmp_path, name):
    project = fixture_repo(tmp_path, name)

    found, warnings = run(project.root)

    assert {f"{a.kind} {a.path}:{a.line}" for a in found.artifacts} == expected(name)
    assert warnings == []


@pytest.mark.parametrize("name", NAMES)
def test_every_reference_resolves_to_what_was_found(tmp_path, name):
    project = fixture_repo(tmp_path, name)
    tree = WorkTree(project.root)

    found, _ = run(project.root)

    for artifact in found.artifacts:
        if artifact.kind == "call":
            continue
        if artifact.kind == "tools":
            tools = resolve_tools(artifact.reference, "", tree, "test")
            assert [t.value for t in tools] == artifact.value, artifact.reference
            continue
        resolved = resolve(parse_reference(artifact.reference, "", "t"), tree, "t")
        assert (resolved.value, resolved.line) == (artifact.value, artifact.line)


def test_quickstart_calls(tmp_path):
    found, _ = run(fixture_repo(tmp_path, "quickstart").root)

    assert calls(found) == {
        "main.py::<module>():5": {
            "method": "messages.create",
            "model": "claude-sonnet-4-6",
            "max_tokens": 1000,
            "system": ["main.py::system"],
            "tools": [],
            "messages": [("user", "main.py::messages.0.content.0.text")],
            "unread": [],
        },
        "streaming.py::stream_recipe():16": {
            "method": "messages.stream",
            "model": "claude-sonnet-4-6",
            "max_tokens": 2048,
            "system": ["streaming.py::SYSTEM"],
            "tools": [],
            "messages": [("user", "streaming.py::stream_recipe.messages.0.content")],
            "unread": [],
        },
        "tool_use.py::<module>():27": {
            "method": "messages.create",
            "model": "claude-haiku-4-5",
            "max_tokens": 1024,
            "system": [],
            "tools": ["tool_use.py::tools"],
            "messages": [("user", "tool_use.py::messages.0.content")],
            "unread": [],
        },
    }
    template = by_reference(found)["streaming.py::stream_recipe.messages.0.content"]
    assert template.value == "Write a recipe for {dish} that serves {servings}."
    assert template.slots == (("dish", "servings"), ())


def test_constants_assembled_across_modules(tmp_path):
    found, _ = run(fixture_repo(tmp_path, "assembled").root)

    system = by_reference(found)["app/prompts/system.py::SYSTEM_PROMPT"]
    assert sorted(system.touched) == [
        "app/prompts/base.py::PERSONA",
        "app/prompts/base.py::SAFETY_RULES",
        "app/prompts/formats.py::MAX_BULLETS",
        "app/prompts/formats.py::OUTPUT_FORMAT",
    ]
    assert system.value.endswith(
        'Reply with JSON only: {"answer": "...", "sources": ["..."]}.\n'
        'Use at most 5 sentences in "answer".'
    )
    assert calls(found)["app/service.py::Assistant.ask():14"] == {
        "method": "messages.create",
        "model": "claude-opus-4-8",
        "max_tokens": 2048,
        "system": ["app/service.py::Assistant.system_prompt"],
        "tools": [],
        "messages": [("user", "app/service.py::Assistant.ask.messages.0.content")],
        "unread": [],
    }
    assert calls(found)["app/service.py::Assistant.reconcile_size():37"][
        "messages"
    ] == [("user", "app/prompts/tasks.py::build_reconcile_prompt")]


def test_templates_rendered_at_run_time_are_linked_to_their_files(tmp_path):
    found, _ = run(fixture_repo(tmp_path, "jinja-rag").root)

    assert calls(found) == {
        "app/rag.py::answer():24": {
            "method": "messages.create",
            "model": "claude-sonnet-4-6",
            "max_tokens": 800,
            "system": ["app/templates/system.md.j2"],
            "tools": [],
            "messages": [("user", "app/templates/rag_answer.j2")],
            "unread": [],
        }
    }
    rag = by_reference(found)["app/templates/rag_answer.j2"]
    assert rag.slots == (("chunks", "question"), ("chunks",))


def test_yaml_agent_tools_are_converted_and_runtime_inputs_are_slots(tmp_path):
    found, _ = run(fixture_repo(tmp_path, "yaml-agents").root)

    writer_tools = by_reference(found)["agents/writer.yaml::functions"].value
    assert writer_tools == [
        {
            "name": "save_draft",
            "description": "Save the current draft of the brief and return its id.",
            "input_schema": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "body": {"type": "string"}},
                "required": ["title", "body"],
            },
        }
    ]
    assert calls(found)["app/runner.py::run_turn():17"] == {
        "method": "messages.create",
        "model": None,
        "max_tokens": None,
        "system": ["slot:system_prompt"],
        "tools": [],
        "messages": [(None, "slot:history")],
        "unread": ["tools"],
    }


def test_agent_loop_tools_from_classes_and_defaults(tmp_path):
    found, _ = run(fixture_repo(tmp_path, "agent-loop").root)

    assert calls(found) == {
        "agent/loop.py::sampling_loop():26": {
            "method": "beta.messages.create",
            "model": None,
            "max_tokens": None,
            "system": ["agent/loop.py::sampling_loop.system.text"],
            "tools": [
                "agent/tools/bash.py::BashTool.to_params",
                "agent/tools/edit.py::EditTool.to_params",
            ],
            "messages": [(None, "slot:messages")],
            "unread": [],
        },
        "agent/summarizer.py::ask_claude():11": {
            "method": "messages.create",
            "model": "claude-haiku-4-5",
            "max_tokens": 1000,
            "system": ["agent/summarizer.py::DEFAULT_SYSTEM"],
            "tools": [],
            "messages": [("user", "slot:prompt")],
            "unread": [],
        },
    }
    artifacts = by_reference(found)
    assert artifacts["agent/tools/bash.py::BashTool.to_params"].value == [
        {"type": "bash_20250124", "name": "bash"}
    ]
    assert artifacts["agent/loop.py::sampling_loop.system.text"].slots == (
        ("machine", "strftime", "system_prompt_suffix"),
        (),
    )


def test_notebook_code_cells_read_as_python(tmp_path):
    project = fixture_repo(tmp_path, "cookbook")
    broken = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Notes\n"]},
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "source": ["%pip install anthropic\n", "SYSTEM_PROMPT = (\n"],
            },
        ],
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    project.write("broken.ipynb", json.dumps(broken, indent=1) + "\n")

    found, warnings = run(project.root)

    assert calls(found) == {
        "triage.ipynb::<module>():77": {
            "method": "messages.create",
            "model": "claude-sonnet-4-6",
            "max_tokens": 20,
            "system": ["triage.ipynb::SYSTEM"],
            "tools": [],
            "messages": [("user", "triage.ipynb::build_prompt")],
            "unread": [],
        }
    }
    assert by_reference(found)["triage.ipynb::build_prompt"].slots == (
        ("categories", "ticket"),
        (),
    )
    assert warnings == [
        "broken.ipynb:16: Python syntax error ('(' was never closed); skipped"
    ]


def test_prompty_sections_are_references(tmp_path):
    found, _ = run(fixture_repo(tmp_path, "prompty-files").root)

    chat = by_reference(found)
    assert chat["prompts/chat.prompty::system"].value == (
        "You are a friendly outdoor-gear expert. Recommend at most three products,\n"
        "each with its weight and price, and ask one clarifying question when the\n"
        "request is vague.\n\n"
    )
    assert chat["prompts/chat.prompty::user"].slots == (("customer", "question"), ())


SIDE_EFFECT_MARKERS = ("tools/IMPORTED.txt", "tools/SHELL_RAN.txt")


def test_modules_with_side_effects_are_read_not_run(tmp_path):
    project = fixture_repo(tmp_path, "side-effects")

    found, warnings = run(project.root)

    assert sorted(a.reference for a in found.artifacts) == [
        "tools/dangerous.py::SYSTEM_PROMPT",
        "tools/explode.py::DEPLOY_TEMPLATE",
    ]
    assert warnings == []
    for marker in SIDE_EFFECT_MARKERS:
        assert not (project.root / marker).exists()


def test_side_effect_module_as_installed_command(tmp_path):
    """The real command on a module that loops forever: it returns, writes nothing."""
    project = fixture_repo(tmp_path, "side-effects")
    script = Path(sys.executable).with_name("promptbudget")
    if not script.exists():
        pytest.skip("promptbudget is not installed beside this Python")

    done = subprocess.run(
        [str(script), "discover", "--format", "json"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    listed = [a["reference"] for a in json.loads(done.stdout)["artifacts"]]
    assert listed == [
        "tools/dangerous.py::SYSTEM_PROMPT",
        "tools/explode.py::DEPLOY_TEMPLATE",
    ]
    for marker in SIDE_EFFECT_MARKERS:
        assert not (project.root / marker).exists()


GOOD = 'SYSTEM_PROMPT = "You answer questions about the weather."\n'


def test_malformed_sources_are_skipped_with_a_warning(tmp_path):
    project = Project(tmp_path / "repo").init()
    project.write("app/good.py", GOOD)
    project.write("app/broken.py", 'SYSTEM_PROMPT = "unclosed\n')
    (project.root / "app/latin1.py").write_bytes(
        b'SYSTEM_PROMPT = "Vous \xeates un assistant."\n'
    )
    (project.root / "app/binary.py").write_bytes(b"SYSTEM_PROMPT\x00\x01\x02")
    project.write("app/huge.py", "SYSTEM_PROMPT = 'x'\n" + "# padding\n" * 240_000)
    project.write(
        "app/deep.py", "SYSTEM_PROMPT = " + "(" * 300 + "1" + ")" * 300 + "\n"
    )
    project.write("app/chain.py", "TEMPLATE = 'a' " + "+ 'b' " * 20_000 + "\n")
    project.write("prompts/bad.yaml", "system: [unclosed\n")
    (project.root / "prompts/logo.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00prompt")

    found, warnings = run(project.root)

    assert [a.reference for a in found.artifacts] == ["app/good.py::SYSTEM_PROMPT"]
    assert warnings == [
        "app/binary.py: is a binary file, not text; skipped",
        "app/broken.py:1: Python syntax error (unterminated string literal "
        "(detected at line 1)); skipped",
        "app/chain.py: Python source nests too deeply or is malformed; skipped",
        "app/deep.py:1: Python syntax error (too many nested parentheses); skipped",
        "app/huge.py: 2,400,020 bytes, over the 2 MB discovery reads; skipped",
        "app/latin1.py:1: is not valid UTF-8; skipped",
        "prompts/bad.yaml:2:1: YAML syntax error: expected ',' or ']', but got "
        "'<stream end>'; skipped",
        "prompts/logo.md: is a binary file, not text; skipped",
    ]


def test_jinja_children_count_their_blocks_and_broken_ones_are_named(tmp_path):
    project = Project(tmp_path / "repo").init()
    project.write(
        "templates/base.j2", "You answer politely.\n{% block body %}{% endblock %}\n"
    )
    project.write(
        "templates/answer.j2",
        '{% extends "base.j2" %}{% block body %}Use these chunks:\n'
        "{% for c in chunks %}{{ c }}\n{% endfor %}Question: {{ question }}"
        "{% endblock %}\n",
    )
    project.write("templates/broken.j2", "Hello {{ name\n")
    warnings: list[str] = []

    found = discover(
        WorkTree(project.root), DiscoverSettings(), warn=warnings.append, templates=True
    )

    texts = {a.reference: a.text for a in found.artifacts}
    # The child renders its own block; the parent is an artifact of its own.
    assert texts["templates/answer.j2"] == "Use these chunks:\nQuestion: "
    assert texts["templates/base.j2"] == "You answer politely.\n\n"
    assert "templates/broken.j2" in texts
    assert warnings == [
        "templates/broken.j2:1: template syntax error: unexpected end of template, "
        "expected 'end of print statement'; listed, but check refuses it until it "
        "is fixed"
    ]


def test_a_broken_template_after_front_matter_is_named_at_its_file_line(tmp_path):
    project = Project(tmp_path / "repo").init()
    project.write("prompts/a.prompt.j2", "---\nname: greet\n---\nHello\n{{ name\n")
    warnings: list[str] = []

    discover(
        WorkTree(project.root), DiscoverSettings(), warn=warnings.append, templates=True
    )

    assert warnings == [
        "prompts/a.prompt.j2:5: template syntax error: unexpected end of template, "
        "expected 'end of print statement'; listed, but check refuses it until it "
        "is fixed"
    ]


def test_texts_doubling_line_after_line_stop_at_the_scan_limit(tmp_path):
    base = "You are helpful. "
    project = Project(tmp_path / "repo").init()
    project.write(
        "app/boom.py",
        f"PROMPT0 = {base!r}\n"
        + "".join(f"PROMPT{i} = PROMPT{i - 1} + PROMPT{i - 1}\n" for i in range(1, 71)),
    )

    found, _ = run(project.root)

    # 2**70 copies would never finish; texts over 2 MB are left out.
    kept = [i for i in range(71) if len(base) * 2**i <= 2 * 2**20]
    assert [a.reference for a in found.artifacts] == [
        f"app/boom.py::PROMPT{i}" for i in kept
    ]


def test_git_decides_which_files_are_read(tmp_path):
    project = Project(tmp_path / "repo").init()
    project.write(".gitignore", "build/\n*.local.py\n")
    project.write("app/tracked.py", GOOD)
    project.commit("tracked")
    project.write("app/untracked.py", GOOD.replace("weather", "tides"))
    project.write("build/copy.py", GOOD)
    project.write("app/settings.local.py", GOOD)

    found, _ = run(project.root)

    assert [a.reference for a in found.artifacts] == [
        "app/tracked.py::SYSTEM_PROMPT",
        "app/untracked.py::SYSTEM_PROMPT",
    ]


def test_discover_paths_and_exclude_narrow_it(tmp_path):
    project = Project(tmp_path / "repo").init()
    for folder in ("app", "app/legacy", "scripts", "docs"):
        project.write(f"{folder}/prompts.py", GOOD)
    project.write("docs/system.md", "You are a documentation bot for the docs site.\n")

    settings = DiscoverSettings(paths=("app", "docs"), exclude=("app/legacy",))
    found, _ = run(project.root, settings)

    assert [a.reference for a in found.artifacts] == [
        "app/prompts.py::SYSTEM_PROMPT",
        "docs/prompts.py::SYSTEM_PROMPT",
        "docs/system.md",
    ]


def test_links_out_of_the_repository_are_not_followed(tmp_path):
    outside = tmp_path / "secret.md"
    outside.write_text("You are the secret assistant of the machine's owner.\n")
    project = Project(tmp_path / "repo").init()
    project.write("app/good.py", GOOD)
    (project.root / "prompts").mkdir()
    (project.root / "prompts/system.md").symlink_to(outside)
    project.write("app/gone.py", GOOD)
    project.commit("with a link")
    (project.root / "app/gone.py").unlink()

    found, warnings = run(project.root)

    assert [a.reference for a in found.artifacts] == ["app/good.py::SYSTEM_PROMPT"]
    assert warnings == [
        "prompts/system.md: resolves outside the repository root (a symbolic "
        "link?); skipped"
    ]
