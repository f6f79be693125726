"""Property tests: any input ends in a result or in the project's own error."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptbudget.config import parse_config
from promptbudget.errors import PromptBudgetError
from promptbudget.pyast import read_value
from promptbudget.refs import parse_reference
from promptbudget.templates import parse_template

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "version",
                    "models",
                    "features",
                    "system",
                    "tools",
                    "messages",
                    "slots",
                    "budget",
                    "max_input_tokens",
                    "warn_at",
                    "max_increase",
                    "role",
                    "text",
                    "template",
                    "top_k",
                    "chunk_tokens",
                    "tokens",
                    "lockfile",
                    "routes",
                    "prices",
                    "margin",
                    "input",
                    "output",
                    "a",
                    "b",
                ]
            ),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=25,
)


def dump(value: object) -> str:
    import yaml

    return yaml.safe_dump(value)


@FAST
@given(yaml_values)
def test_config_loader_on_structured_input(value):
    try:
        parse_config(dump(value), "budgets.yaml")
    except PromptBudgetError:
        pass


@FAST
@given(st.text(max_size=300))
def test_config_loader_on_any_text(text):
    try:
        parse_config(text, "budgets.yaml")
    except PromptBudgetError:
        pass


@FAST
@given(st.text(max_size=80), st.sampled_from(["", "app", "a/b"]))
def test_reference_parsing(text, base):
    try:
        ref = parse_reference(text, base, "budgets.yaml")
    except PromptBudgetError:
        return
    assert not ref.path.startswith(("/", "../")) and ref.path != ".."


python_fragments = st.lists(
    st.sampled_from(
        [
            "SYSTEM",
            "=",
            "'x'",
            '"y"',
            "+",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ":",
            ",",
            "f'{a}'",
            "textwrap.dedent(",
            "'z'.strip()",
            "\n",
            "import os",
            "class C:",
            "    ",
            "OTHER",
            ".format(",
            "lambda: 1",
            "*",
            "**",
            "-",
            "1",
            "None",
        ]
    ),
    max_size=30,
).map("".join)


@FAST
@given(st.one_of(python_fragments, st.text(max_size=200)))
def test_python_reading(source):
    for name in ("SYSTEM", "C.SYSTEM"):
        try:
            read_value(source, "app.py", name)
        except PromptBudgetError:
            pass


@FAST
@given(
    st.one_of(
        st.text(alphabet="{}%# abcxyz_.|()[]'\"\n-+", max_size=120),
        st.text(max_size=120),
    ),
    st.sampled_from(["t.j2", "t.txt"]),
)
def test_slot_extraction(text, path):
    try:
        template = parse_template(text, path)
    except PromptBudgetError:
        return
    assert all(isinstance(slot, str) for slot in template.slots)
    assert isinstance(template.rendered, str)
