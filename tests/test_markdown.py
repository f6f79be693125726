"""The markdown report: exact documents, estimates marked, GitHub's size limit."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from test_check import answer_body, classify_body

from promptbudget.budget import Row
from promptbudget.cli import cli
from promptbudget.markdown import COMMENT_LIMIT, render_markdown
from promptbudget.request import PROBE_TEXT
from promptbudget.run import Report

from fakeapi import fake_count
from project import ALLOWANCES, Project

GROWTH = "Always greet the customer by name. " * 60 + "\n"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def app(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path / "repo").init().write_support_app()
    project.commit("support app")
    project.git("checkout", "-q", "-b", "feature")
    monkeypatch.chdir(project.root)
    return project


def growth_rows() -> list[tuple[str, int, int]]:
    """(model, base, head) of answer_question after GROWTH in its system prompt."""
    reserved = ALLOWANCES["answer_question"]
    rows = []
    for model in ("claude-sonnet-4-6", "claude-haiku-4-5"):
        grown = answer_body(model)
        grown["system"][0]["text"] += GROWTH
        base = fake_count(answer_body(model)) + reserved
        head = fake_count(grown) + reserved
        rows.append((model, base, head))
    return rows


def growth_reason(model: str, base: int, head: int) -> str:
    return (
        f"answer_question on {model}: grew by {head - base:,} tokens "
        f"({(head - base) / base:+.1%}), over max_increase 10%; shorten "
        "prompts/answer_system.md, app/prompts.py, app/tools.py ... or raise "
        "features.answer_question.budget.max_increase in budgets.yaml"
    )


def expected_growth_markdown(ref: str, commit: str) -> str:
    """The markdown of the support app after GROWTH in its system prompt."""
    rows = growth_rows()
    total = sum(head - base for _, base, head in rows)
    classify = fake_count(classify_body())
    table = [
        f"| `answer_question` | {model} | {base:,} | {head:,} | {head - base:+,} | "
        f"{(head - base) / base:+.1%} | {head / 4000:.0%} of 4,000 | ❌ over |"
        for model, base, head in rows
    ]
    reasons = [f"- {growth_reason(*row)}" for row in rows]
    base_total = sum(base for _, base, _ in rows) + classify
    return "\n".join(
        [
            f"### ❌ promptbudget: 2 over budget · total {total:+,} tokens "
            f"({total / base_total:+.1%})",
            "",
            f"Base: `{ref}` at `{commit[:12]}`. All counts are exact (count_tokens).",
            "",
            "| feature | model | base | head | delta | % | budget use | status |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
            *table,
            "",
            *reasons,
            "",
            "<details><summary>1 unchanged</summary>",
            "",
            "| feature | model | tokens | budget use | status |",
            "| --- | --- | ---: | ---: | --- |",
            f"| `classify_intent` | claude-haiku-4-5 | {classify} | "
            f"{classify / 300:.0%} of 300 | ✅ ok |",
            "",
            "</details>",
            "",
        ]
    )


def test_diff_markdown_document(app, fake_api_env):
    app.append("prompts/answer_system.md", GROWTH)

    result = invoke("diff", "main", "--format", "markdown")

    assert result.exit_code == 1
    assert result.stdout == expected_growth_markdown(
        "main", app.git("rev-parse", "main")
    )


def test_output_writes_the_file_and_prints_nothing(app, fake_api_env):
    result = invoke("diff", "main", "--format", "markdown", "--output", "report.md")

    assert result.exit_code == 0
    assert result.stdout == ""
    document = (app.root / "report.md").read_text(encoding="utf-8")
    assert document.startswith("### ✅ promptbudget: within budget · total 0 tokens")
    assert "<details><summary>3 unchanged</summary>" in document


def test_output_to_a_missing_folder_is_one_line_exit_2(app, fake_api_env):
    result = invoke("check", "--output", "no/such/dir/report.txt")

    assert result.exit_code == 2
    assert result.stderr == (
        "promptbudget: error: no/such/dir/report.txt: cannot write the report "
        "(No such file or directory); give --output a writable path\n"
    )


def row(feature: str, model: str, tokens: int, **fields) -> Row:
    values = dict(
        feature=feature,
        model=model,
        input_tokens=tokens,
        reserved_tokens=0,
        exact=True,
        source="api",
        max_input_tokens=1000,
    )
    values.update(fields)
    return Row(**values)


def test_check_markdown_marks_estimates_and_folds_rows_within_budget():
    report = Report(
        "check",
        [
            row("answer", "claude-sonnet-4-6", 950, exact=False, source="estimate"),
            row("classify", "claude-haiku-4-5", 120, exact=False, source="estimate"),
        ],
    )
    report.rows[0].status = "warn"
    report.rows[0].reasons.append("answer on claude-sonnet-4-6: ~950 of 1,000 tokens")

    assert render_markdown(report) == "\n".join(
        [
            "### ⚠️ promptbudget: 1 near budget · ~1,070 input tokens in 2 counts",
            "",
            "Counts marked ~ are offline estimates; set ANTHROPIC_API_KEY for exact "
            "counts.",
            "",
            "| feature | model | input | budget use | status |",
            "| --- | --- | ---: | ---: | --- |",
            "| `answer` | claude-sonnet-4-6 | ~950 | 95% of 1,000 | ⚠️ warn |",
            "",
            "- answer on claude-sonnet-4-6: ~950 of 1,000 tokens",
            "",
            "<details><summary>1 within budget</summary>",
            "",
            "| feature | model | tokens | budget use | status |",
            "| --- | --- | ---: | ---: | --- |",
            "| `classify` | claude-haiku-4-5 | ~120 | 12% of 1,000 | ✅ ok |",
            "",
            "</details>",
            "",
        ]
    )


def test_new_and_removed_features_and_escaping():
    report = Report(
        "diff",
        [
            row("greet", "claude-haiku-4-5", 40, change="new"),
            row(
                "old",
                "claude-haiku-4-5",
                None,
                max_input_tokens=None,
                base_input_tokens=60,
                base_exact=True,
                change="removed",
            ),
        ],
        base={"ref": "main", "commit": "0123456789abcdef"},
        notes=["budget <b>|</b> note"],
    )

    lines = render_markdown(report).splitlines()

    assert lines[0] == "### ✅ promptbudget: within budget · total -20 tokens (-33.3%)"
    assert lines[6:8] == [
        "| `greet` | claude-haiku-4-5 | - | 40 | new | - | 4% of 1,000 | ✅ ok |",
        "| `old` | claude-haiku-4-5 | 60 | - | removed | - | - | ✅ ok |",
    ]
    assert lines[9] == "budget &lt;b&gt;\\|&lt;/b&gt; note"


def many_rows(features: int, models: tuple[str, ...]) -> Report:
    """A diff where every feature grew past its budget on every model."""
    rows = []
    for i in range(features):
        name = f"feature_{i:03d}_answers_questions_from_the_help_centre"
        for model in models:
            grown = row(
                name,
                model,
                1200 + i,
                base_input_tokens=900 + i,
                base_exact=True,
                delta=300,
                change="changed",
                status="over",
            )
            grown.reasons.append(
                f"{name} on {model}: {1200 + i:,} > 1,000 tokens (+{200 + i}); "
                f"shorten prompts/{name}.md or raise features.{name}.budget."
                "max_input_tokens in budgets.yaml"
            )
            rows.append(grown)
        rows.append(
            row(
                name,
                "claude-haiku-4-5",
                300,
                base_input_tokens=300,
                base_exact=True,
                change="same",
                delta=0,
            )
        )
    return Report("diff", rows, base={"ref": "main", "commit": "f" * 40})


def test_500_features_stay_within_the_comment_limit():
    report = many_rows(500, ("claude-sonnet-4-6", "claude-opus-4-8"))

    document = render_markdown(report)

    assert len(document) <= COMMENT_LIMIT
    lines = document.splitlines()
    base_total = 2 * sum(900 + i for i in range(500)) + 500 * 300
    assert lines[0] == (
        "### ❌ promptbudget: 1,000 over budget · total +300,000 tokens "
        f"({300_000 / base_total:+.1%})"
    )
    shown = [line for line in lines if line.startswith("| `feature_")]
    assert len(shown) < 1000
    assert lines[-1] == (
        f"_{1500 - len(shown):,} more rows left out to stay within 65,536 "
        "characters; `--format json` has them all._"
    )
    assert "- … and 980 more" in lines
    assert "<details><summary>500 unchanged</summary>" in lines
    # a wider limit (the job summary) shows every row
    assert "left out" not in render_markdown(report, limit=900_000)


def test_a_report_that_fits_is_not_truncated():
    report = many_rows(10, ("claude-sonnet-4-6",))
    document = render_markdown(report)
    assert "left out" not in document
    assert sum(line.startswith("| `feature_") for line in document.splitlines()) == 20


def test_500_features_end_to_end(tmp_path, monkeypatch, fake_api_env):
    project = Project(tmp_path / "big").init()
    features = ["version: 1", "models: [claude-haiku-4-5]", "features:"]
    for i in range(500):
        project.write(f"prompts/p{i:03d}.md", f"Prompt number {i}.\n")
        features += [
            f"  feature_{i:03d}:",
            f"    system: prompts/p{i:03d}.md",
            "    budget: {max_input_tokens: 100000, max_increase: 0}",
        ]
    project.write("budgets.yaml", "\n".join(features) + "\n")
    project.commit("500 features")
    for i in range(500):
        project.append(f"prompts/p{i:03d}.md", "Answer in the customer's language.\n")
    monkeypatch.chdir(project.root)

    result = invoke("diff", "main", "--format", "markdown")

    assert result.exit_code == 1
    assert len(result.stdout) <= COMMENT_LIMIT
    lines = result.stdout.splitlines()

    def body(text: str) -> dict:
        return {
            "model": "claude-haiku-4-5",
            "system": [{"type": "text", "text": text}],
            "messages": [{"role": "user", "content": PROBE_TEXT}],
        }

    base = sum(fake_count(body(f"Prompt number {i}.\n")) for i in range(500))
    grown = "Answer in the customer's language.\n"
    head = sum(fake_count(body(f"Prompt number {i}.\n{grown}")) for i in range(500))
    assert lines[0] == (
        f"### ❌ promptbudget: 500 over budget · total {head - base:+,} tokens "
        f"({(head - base) / base:+.1%})"
    )
    shown = sum(line.startswith("| `feature_") for line in lines)
    assert shown == 500
    assert fake_api_env.count_requests() == 1000


def test_a_stale_lockfile_fails_the_headline_and_is_listed():
    report = Report(
        "check",
        [row("answer", "claude-sonnet-4-6", 500)],
        problems=[
            "promptbudget.lock: answer on claude-sonnet-4-6 is stale; run promptbudget lock"
        ],
    )

    lines = render_markdown(report).splitlines()

    assert lines[0] == "### ❌ promptbudget: 1 problem"
    assert (
        "- ❌ promptbudget.lock: answer on claude-sonnet-4-6 is stale; run promptbudget lock"
        in lines
    )


def test_an_uncertain_estimate_is_shown_with_its_reason():
    close = row("answer", "claude-sonnet-4-6", 980, exact=False, uncertain=True)
    close.reasons.append("answer on claude-sonnet-4-6: ~980 is an estimate within 5%")

    lines = render_markdown(Report("check", [close])).splitlines()

    assert "| `answer` | claude-sonnet-4-6 | ~980 | 98% of 1,000 | ✅ ok |" in lines
    assert "- answer on claude-sonnet-4-6: ~980 is an estimate within 5%" in lines
    assert not any(line.startswith("<details>") for line in lines)
