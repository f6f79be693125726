"""Python references read statically: f-strings, .format, imports, key paths."""

from __future__ import annotations

import ast

import pytest

from promptbudget.errors import ConfigError
from promptbudget.pyast import slot_name
from promptbudget.refs import parse_reference, resolve
from promptbudget.templates import FormatText, parse_template
from promptbudget.tree import WorkTree

from project import Project, dedent

PROMPTS = dedent(
    '''
    import textwrap
    from datetime import date

    BASE = "You are the billing assistant."
    RULES = textwrap.dedent("""
        Never promise refunds.
        Quote amounts exactly.
    """)
    MAX_WORDS = 120
    SYSTEM = BASE + "\\n" + RULES
    DATED = f"{BASE} Today is {date.today():%Y-%m-%d}. Use at most {MAX_WORDS} words."
    LITERAL_BRACES = f"Reply as JSON: {{\\"answer\\": ...}} in {MAX_WORDS} words."
    JOINED = "\\n\\n".join([BASE, RULES.strip()])
    ASK = "Context:\\n{context}\\n\\nQuestion: {question}"
    FILLED = ASK.format(context="(none)", question=QUESTION_PARAM)
    POSITIONAL = "Summarise {} in {} words.".format(TOPIC, MAX_WORDS)
    ROUTES = {"classify": {"model": "claude-haiku-4-5", "max_tokens": 16}}
    STEPS = "Plan the task."
    STEPS += " Then do it."
    STEPS = STEPS + " Then check it."


    class Persona:
        GREETING = "Hello, I can help with invoices."

        def __init__(self, name):
            self.system_prompt = BASE + f" Your name is {name}."


    def build_prompt(question, chunks):
        """Docstrings are not prompts."""
        return f"Answer {question} from:\\n{'; '.join(c.text for c in chunks)}"


    def ask(client, message):
        return client.messages.create(
            model=ROUTES["classify"]["model"],
            max_tokens=ROUTES["classify"]["max_tokens"],
            system=[{"type": "text", "text": SYSTEM}],
            messages=[{"role": "user", "content": f"Classify: {message}"}],
        )
    '''
)

AGENT = dedent(
    """
    from app import prompts as p
    from app.prompts import SYSTEM, Persona
    import app.prompts

    from .settings import TOP_K

    COMBINED = SYSTEM + p.BASE + app.prompts.STEPS + Persona.GREETING
    LIMIT = TOP_K * 2
    LOOP = LOOPED_A
    LOOPED_A = LOOP
    """
)


@pytest.fixture
def tree(tmp_path) -> WorkTree:
    project = Project(tmp_path / "repo").init()
    project.write("app/__init__.py", "")
    project.write("app/prompts.py", PROMPTS)
    project.write("app/agent.py", AGENT)
    project.write("app/settings.py", "TOP_K = 6\n")
    return WorkTree(project.root)


def value(tree: WorkTree, reference: str):
    found = resolve(parse_reference(reference, "", "test"), tree, "test")
    return found.value, found.line


BASE = "You are the billing assistant."
RULES = "\nNever promise refunds.\nQuote amounts exactly.\n"

CASES = [
    ("SYSTEM", BASE + "\n" + RULES, 10),
    (
        "DATED",
        FormatText(BASE + " Today is {today}. Use at most 120 words."),
        11,
    ),
    ("LITERAL_BRACES", 'Reply as JSON: {"answer": ...} in 120 words.', 12),
    ("JOINED", BASE + "\n\nNever promise refunds.\nQuote amounts exactly.", 13),
    ("FILLED", FormatText("Context:\n(none)\n\nQuestion: {question}"), 15),
    ("POSITIONAL", FormatText("Summarise {TOPIC} in 120 words."), 16),
    ("ROUTES.classify.model", "claude-haiku-4-5", 17),
    ("STEPS", "Plan the task. Then do it. Then check it.", 18),
    ("Persona.GREETING", "Hello, I can help with invoices.", 24),
    ("Persona.system_prompt", FormatText(BASE + " Your name is {name}."), 27),
    ("build_prompt", FormatText("Answer {question} from:\n{chunks}"), 32),
    ("ask.model", "claude-haiku-4-5", 37),
    ("ask.system.0.text", BASE + "\n" + RULES, 39),
    ("ask.messages.0.content", FormatText("Classify: {message}"), 40),
]


@pytest.mark.parametrize(("name", "expected", "line"), CASES, ids=[c[0] for c in CASES])
def test_python_values(tree, name, expected, line):
    found, found_line = value(tree, f"app/prompts.py::{name}")

    assert (found, found_line) == (expected, line)
    assert type(found) is type(expected)


def test_imports_across_modules(tree):
    combined, _ = value(tree, "app/agent.py::COMBINED")

    assert combined == (
        BASE + "\n" + RULES + BASE + "Plan the task. Then do it. Then check it."
        "Hello, I can help with invoices."
    )


def test_what_a_reference_was_built_from(tree):
    found = resolve(parse_reference("app/agent.py::COMBINED", "", "t"), tree, "t")

    assert sorted(found.touched) == [
        "app/agent.py::COMBINED",
        "app/prompts.py::BASE",
        "app/prompts.py::Persona.GREETING",
        "app/prompts.py::RULES",
        "app/prompts.py::STEPS",
        "app/prompts.py::SYSTEM",
    ]


def test_format_text_slots_and_rendering():
    template = parse_template(FormatText("Hi {name}, {{literal}} {name}."), "a.py")

    assert template.slots == ("name",)
    assert template.rendered == "Hi , {literal} ."


def test_jinja_loop_marks_a_repeated_slot():
    template = parse_template(
        "{% for c in chunks %}{{ c.text }}\n{% endfor %}Q: {{ question }}", "a.j2"
    )

    assert (template.slots, template.repeated) == (("chunks", "question"), ("chunks",))


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (
            "app/agent.py::LIMIT",
            "app/agent.py:8: 'LIMIT' is not a literal promptbudget can read without "
            "running code (BinOp); assign a string or list literal",
        ),
        (
            "app/agent.py::LOOP",
            "app/agent.py:9: 'LOOP' is not a literal promptbudget can read without "
            "running code (name LOOP refers to itself); assign a string or list "
            "literal",
        ),
        (
            "app/prompts.py::ask.temperature",
            "app/prompts.py: no assignment, keyword or key 'ask.temperature'; check "
            "the name after '::' in the reference",
        ),
        (
            "app/prompts.py::ROUTES.answer.model",
            "app/prompts.py: no assignment, keyword or key 'ROUTES.answer.model'; "
            "check the name after '::' in the reference",
        ),
    ],
    ids=["not-static", "cycle", "no-keyword", "no-key"],
)
def test_unreadable_references_are_one_line_errors(tree, reference, message):
    with pytest.raises(ConfigError) as caught:
        value(tree, reference)
    assert str(caught.value) == message


def test_settings_constant_through_a_relative_import(tree, tmp_path):
    project = Project(tmp_path / "repo")
    project.write("app/agent.py", AGENT + "WINDOW = TOP_K\n")

    assert value(tree, "app/agent.py::WINDOW") == (6, 11)


@pytest.mark.parametrize(
    ("expression", "slot"),
    [
        ("question", "question"),
        ('config["system_prompt"]', "system_prompt"),
        ('config.get("persona")', "persona"),
        ('"\\n".join(chunks)', "chunks"),
        ('open("app/system_prompt.md").read()', "system_prompt"),
        ('Path("prompts/answer-v2.md").read_text(encoding="utf-8")', "answer_v2"),
        ("history_text.strip()", "history_text"),
        ('raw.decode("utf-8")', "raw"),
        ('self.load("review")', "review"),
        ("fetch_prompt()", "fetch_prompt"),
    ],
)
def test_slot_names_for_inputs_known_only_at_run_time(expression, slot):
    assert slot_name(ast.parse(expression, mode="eval").body) == slot


def test_augmented_assignment_that_uses_its_own_name(tmp_path):
    project = Project(tmp_path / "repo").init()
    project.write(
        "app/rules.py",
        'RULES = "Be brief. "\nRULES += RULES\nRULES += "End."\n',
    )

    found, _ = value(WorkTree(project.root), "app/rules.py::RULES")

    assert found == "Be brief. Be brief. End."


def test_a_name_rebound_to_twice_itself_line_after_line_is_refused(tmp_path):
    # 70 lines of `E = E + E` share one node 2**70 times over.
    project = Project(tmp_path / "repo").init()
    project.write("app/same.py", 'E = "ab"\n' + "E = E + E\n" * 70)

    with pytest.raises(ConfigError) as raised:
        value(WorkTree(project.root), "app/same.py::E")

    assert "takes over 5,000,000 steps to read" in str(raised.value)
