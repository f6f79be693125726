"""Bad budgets.yaml files: one line naming file, line and fix; exit 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from promptbudget.cli import cli

from project import Project

GOOD_HEAD = "version: 1\nmodels: [claude-sonnet-4-6]\nfeatures:\n"


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path / "repo").init()
    project.write("prompts/system.md", "You are helpful.\n")
    project.write("prompts/rag.j2", "Docs: {{ context }}\nQ: {{ question }}\n")
    project.write(
        "app/prompts.py", 'SYSTEM = "Be brief."\nLIMIT = 3\nTOOLS = {"a": 1}\n'
    )
    monkeypatch.chdir(project.root)
    return project


def error_of(repo: Project, budgets: str | bytes, *args: str) -> str:
    if isinstance(budgets, bytes):
        (repo.root / "budgets.yaml").write_bytes(budgets)
    else:
        repo.write("budgets.yaml", budgets)
    result = CliRunner().invoke(
        cli, ["check", "--offline", *args], catch_exceptions=False
    )
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("promptbudget: error: ")
    return result.stderr.removeprefix("promptbudget: error: ").rstrip("\n")


CASES = [
    (
        "empty",
        "",
        "budgets.yaml: is empty; start with 'version: 1' and a 'features:' "
        "mapping (or run promptbudget init)",
    ),
    (
        "list",
        "- a\n- b\n",
        "budgets.yaml:1:1: must be a mapping with 'version' and 'features'",
    ),
    (
        "syntax",
        GOOD_HEAD + "  a: [unclosed\n",
        "budgets.yaml:5:1: YAML syntax error: "
        "expected ',' or ']', but got '<stream end>'; fix the YAML at that position",
    ),
    (
        "version 2",
        "version: 2\nfeatures: {a: {system: prompts/system.md}}\n",
        "budgets.yaml:1:1: version: version 2 is not supported; this promptbudget "
        "reads version: 1",
    ),
    (
        "version true",
        "version: true\nfeatures: {a: {system: prompts/system.md}}\n",
        "budgets.yaml:1:1: version: version true is not supported; this promptbudget "
        "reads version: 1",
    ),
    (
        "version quoted",
        "version: '1'\nfeatures: {a: {system: prompts/system.md}}\n",
        "budgets.yaml:1:1: version: must be the number 1; write version: 1 without "
        "quotes",
    ),
    (
        "null feature name",
        GOOD_HEAD + "  ~: {system: prompts/system.md}\n",
        "budgets.yaml:4:3: features.null: a feature is named null; name each "
        "feature with text such as answer_question",
    ),
    (
        "control characters in a feature name",
        GOOD_HEAD + '  "a\\nb\\e[31m": {system: prompts/system.md}\n',
        "budgets.yaml:4:3: features.'a\\nb\\x1b[31m': the feature name "
        "'a\\nb\\x1b[31m' holds control characters; use plain text",
    ),
    (
        "nan percent",
        GOOD_HEAD + "  a:\n    budget: {max_input_tokens: 9, max_increase: nan%}\n",
        "budgets.yaml:5:35: features.a.budget.max_increase: must be a percentage such "
        "as 90%, not 'nan%'",
    ),
    (
        "infinite cost",
        GOOD_HEAD
        + "  a:\n    budget: {max_input_tokens: 9, max_cost_per_call: .inf}\n",
        "budgets.yaml:5:35: features.a.budget.max_cost_per_call: must be a positive "
        "amount in USD, not inf",
    ),
    (
        "no version",
        "features: {a: {system: prompts/system.md}}\n",
        "budgets.yaml:1:1: has no 'version'; add 'version: 1' at the top",
    ),
    (
        "unknown top key",
        "version: 1\nfeature: {}\n",
        "budgets.yaml:2:1: unknown key 'feature' in the top level; did you mean "
        "'features'?",
    ),
    (
        "unknown budget key",
        GOOD_HEAD + "  a:\n    system: prompts/system.md\n"
        "    budget: {max_input_token: 10}\n",
        "budgets.yaml:6:14: unknown key 'max_input_token' in features.a.budget; did you "
        "mean 'max_input_tokens'?",
    ),
    (
        "string budget",
        GOOD_HEAD + "  a:\n    budget: {max_input_tokens: lots}\n",
        "budgets.yaml:5:14: features.a.budget.max_input_tokens: must be a positive whole "
        "number of tokens, not 'lots'",
    ),
    (
        "zero budget",
        GOOD_HEAD + "  a:\n    budget: {max_input_tokens: 0}\n",
        "budgets.yaml:5:14: features.a.budget.max_input_tokens: must be a positive whole "
        "number of tokens, not 0",
    ),
    (
        "negative budget",
        GOOD_HEAD + "  a:\n    budget: {max_input_tokens: -5}\n",
        "budgets.yaml:5:14: features.a.budget.max_input_tokens: must be a positive whole "
        "number of tokens, not -5",
    ),
    (
        "duplicate key",
        GOOD_HEAD + "  a: {}\n  a: {}\n",
        "budgets.yaml:5:3: duplicate key 'a'; keep one of the two",
    ),
    (
        "python tag",
        GOOD_HEAD + "  a: !!python/object/apply:os.system [echo hi]\n",
        "budgets.yaml:4:6: the tag 'tag:yaml.org,2002:python/object/apply:os.system' "
        "is not allowed; remove the tag",
    ),
    (
        "python scalar tag",
        GOOD_HEAD + "  a: !!python/name:os.system x\n",
        "budgets.yaml:4:6: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'; remove the tag",
    ),
    (
        "no models",
        "version: 1\nfeatures:\n  a: {system: prompts/system.md}\n",
        "budgets.yaml:3:3: features.a: has no models; add 'models: [claude-sonnet-4-6]' "
        "to it or at the top",
    ),
    (
        "missing file",
        GOOD_HEAD + "  a: {system: prompts/nope.md}\n",
        "budgets.yaml: features.a.system: 'prompts/nope.md' refers to prompts/nope.md, "
        "which does not exist at working tree; fix the path",
    ),
    (
        "missing name",
        GOOD_HEAD + "  a: {system: app/prompts.py::MISSING}\n",
        "app/prompts.py: no module-level assignment to 'MISSING'; check the name after "
        "'::' in the reference",
    ),
    (
        "not a string",
        GOOD_HEAD + "  a: {system: app/prompts.py::LIMIT}\n",
        "app/prompts.py:2: 'app/prompts.py::LIMIT' is a int, not a string; reference a "
        "text value",
    ),
    (
        "not a tool",
        GOOD_HEAD + "  a: {tools: app/prompts.py::TOOLS}\n",
        "app/prompts.py:3: 'app/prompts.py::TOOLS' is not a tool definition; a tool is a "
        "mapping with name, description and input_schema",
    ),
    (
        "undeclared slot",
        GOOD_HEAD + "  a:\n    messages: [{template: prompts/rag.j2}]\n"
        "    slots: {context: 500}\n",
        "prompts/rag.j2:1: slot 'question' has no allowance in budgets.yaml; add "
        "features.a.slots.question: <tokens> (its worst case)",
    ),
    (
        "glob matches nothing",
        GOOD_HEAD + "  a: {system: 'prompts/*.txt'}\n",
        "budgets.yaml: features.a.system: 'prompts/*.txt' matches no file at working "
        "tree; fix the pattern or remove it",
    ),
    (
        "directory",
        GOOD_HEAD + "  a: {system: prompts}\n",
        "budgets.yaml: features.a.system: 'prompts' is a directory; reference a file or a "
        "glob such as dir/*.md",
    ),
    (
        "parent path",
        GOOD_HEAD + "  a: {system: ../secrets.txt}\n",
        "budgets.yaml: features.a.system: '../secrets.txt' points outside the repository "
        "root; promptbudget reads only files inside the repository",
    ),
    (
        "absolute path",
        GOOD_HEAD + "  a: {system: /etc/passwd}\n",
        "budgets.yaml: features.a.system: '/etc/passwd' is an absolute path; use a path "
        "relative to budgets.yaml inside the repository",
    ),
    (
        "bad role",
        GOOD_HEAD + "  a:\n    messages: [{role: system, text: hi}]\n",
        "budgets.yaml:5:17: features.a.messages.0.role: role must be user or assistant, "
        "not 'system'",
    ),
    (
        "warn_at",
        GOOD_HEAD + "  a:\n    budget: {max_input_tokens: 9, warn_at: lots}\n",
        "budgets.yaml:5:35: features.a.budget.warn_at: must be a percentage such as 90%, "
        "not 'lots'",
    ),
]


@pytest.mark.parametrize(
    ("budgets", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_budgets_give_one_line(repo, budgets, message):
    assert error_of(repo, budgets) == message


def test_missing_budgets_yaml(repo):
    result = CliRunner().invoke(cli, ["check"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr == (
        f"promptbudget: error: budgets.yaml: not found in {repo.root} or its parents; "
        "create one (see the README) or pass --config PATH\n"
    )


def test_alias_bomb_fails_fast(repo):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    message = error_of(repo, "\n".join(lines) + "\n")
    assert message == (
        "budgets.yaml: YAML expands to more than 200,000 values (aliases nested too "
        "deeply?); write the values out plainly"
    )


def test_huge_budgets_yaml_is_refused(repo):
    budgets = GOOD_HEAD + "# padding\n" * 1_100_000
    message = error_of(repo, budgets)
    assert message == (
        f"budgets.yaml: is {len(budgets):,} bytes; budgets.yaml is limited to 1 MB"
    )


def test_not_utf8(repo):
    assert error_of(repo, b"version: 1\n# caf\xe9\n") == (
        "budgets.yaml:2: is not valid UTF-8; save the file as UTF-8"
    )


def test_symlink_leaving_the_repository_is_refused(repo, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("runner secret\n")
    (repo.root / "prompts" / "leak.md").symlink_to(secret)
    message = error_of(repo, GOOD_HEAD + "  a: {system: prompts/leak.md}\n")
    assert message == (
        "prompts/leak.md: resolves outside the repository root (a symbolic link?); "
        "promptbudget reads only files inside the repository"
    )
