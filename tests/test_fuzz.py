"""Property tests: any input ends in a result or in the project's own error."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptbudget.config import DiscoverSettings, parse_config
from promptbudget.discovery import discover
from promptbudget.errors import PromptBudgetError
from promptbudget.pyast import read_value
from promptbudget.refs import parse_reference
from promptbudget.templates import parse_template
from promptbudget.tree import glob_match
from promptbudget.yamlload import _FAILED, _Builder, _compose, _compose_fast

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


class FilesInMemory:
    """A revision held in a dict, so discovery can be fuzzed without a disk."""

    label = "fuzzed tree"

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def read_bytes(self, path: str) -> bytes:
        if path not in self.files:
            raise PromptBudgetError(f"{path}: no such file")
        return self.files[path].encode("utf-8", "surrogatepass")

    def is_file(self, path: str) -> bool:
        return path in self.files

    def is_dir(self, path: str) -> bool:
        return any(name.startswith(path.rstrip("/") + "/") for name in self.files)

    def glob(self, pattern: str) -> list[str]:
        return sorted(name for name in self.files if glob_match(name, pattern))

    def list_files(self) -> list[str]:
        return sorted(self.files)


llm_fragments = st.lists(
    st.sampled_from(
        [
            "import anthropic\n",
            "from app.prompts import SYSTEM\n",
            "client = anthropic.Anthropic()\n",
            "client.messages.create(",
            "client.beta.messages.stream(",
            "system=",
            "tools=",
            "messages=",
            "model=",
            "max_tokens=",
            "SYSTEM",
            "TOOLS",
            "[",
            "]",
            "{",
            "}",
            "(",
            ")",
            ",",
            ":",
            "=",
            "+",
            "'prompt'",
            "'name': 'x'",
            "'description': 'd'",
            "'input_schema': {}",
            "'type': 'function'",
            "'function': ",
            "f'{q}'",
            "'{a}'.format(",
            "textwrap.dedent(",
            "def f(p=SYSTEM):\n    ",
            "class A:\n    ",
            "\n",
            "    ",
            "*",
            "**",
            "None",
        ]
    ),
    max_size=40,
).map("".join)

statement_shapes = [
    "import anthropic\nclient = anthropic.Anthropic()",
    "from app.prompts import SYSTEM, TOOLS",
    "SYSTEM = {0!r}",
    "SYSTEM_PROMPT = textwrap.dedent({0!r}).strip()",
    "PROMPT = {0!r} + SYSTEM",
    "TEMPLATE = {0!r}.format(question=q)",
    "ANSWER = f{0!r}",
    "TOOLS = [{{'name': {0!r}, 'description': 'd', 'input_schema': {{}}}}]",
    "FUNCS = [{{'type': 'function', 'function': {{'name': {0!r}, 'parameters': {{}}}}}}]",
    "class Prompts:\n    SYSTEM = {0!r}",
    "def ask(q, system=SYSTEM):\n    return client.messages.create("
    "model={0!r}, system=system, tools=TOOLS, max_tokens=5, "
    "messages=[{{'role': 'user', 'content': q}}])",
    "client.beta.messages.stream(model='m', system=[{{'type': 'text', 'text': {0!r}}}])",
    "client.messages.count_tokens(model=MODEL, messages=PROMPT)",
]
python_modules = st.lists(
    st.tuples(st.sampled_from(statement_shapes), st.text(max_size=30)).map(
        lambda pair: pair[0].format(pair[1])
    ),
    max_size=8,
).map("\n".join)

data_files = st.one_of(
    st.text(max_size=150),
    st.recursive(
        yaml_scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.sampled_from(
                    [
                        "system",
                        "system_prompt",
                        "instructions",
                        "template",
                        "prompt",
                        "name",
                        "description",
                        "input_schema",
                        "parameters",
                        "function",
                        "type",
                    ]
                ),
                inner,
                max_size=4,
            ),
        ),
        max_leaves=12,
    ).map(repr),
)


@FAST
@given(
    st.one_of(python_modules, llm_fragments, st.text(max_size=200)),
    st.one_of(python_modules, llm_fragments),
    data_files,
    st.text(max_size=150),
)
def test_discovery_on_any_repository(module, prompts, data, prompt_file):
    tree = FilesInMemory(
        {
            "app/main.py": module,
            "app/prompts.py": prompts,
            "config/prompts.yaml": data,
            "config/tools.json": data,
            "prompts/answer.j2": prompt_file,
            "notes/prompt.ipynb": prompt_file,
        }
    )
    warnings: list[str] = []

    found = discover(tree, DiscoverSettings(), warn=warnings.append)

    assert all(artifact.path in tree.files for artifact in found.artifacts)
    assert all(isinstance(message, str) for message in warnings)


def _built(node, path="budgets.yaml"):
    """The data, and the marks of every value that is not empty.

    An empty scalar has no text of its own: libyaml marks it where the next
    token starts, PyYAML where the previous one ended. Mapping entries are
    marked at their keys, so messages never point at an empty scalar.
    """
    builder = _Builder(path)
    try:
        data = builder.build(node, ())
    except PromptBudgetError as exc:
        return str(exc)
    marks = {}
    for key_path, mark in builder.marks.items():
        value = data
        for key in key_path:
            value = value[key]
        if value is not None or (key_path and not isinstance(key_path[-1], int)):
            marks[key_path] = mark
    return data, marks


@FAST
@given(
    st.one_of(
        yaml_values.map(lambda v: yaml.safe_dump(v, default_flow_style=False)),
        yaml_values.map(lambda v: yaml.safe_dump(v, default_flow_style=True)),
        st.text(alphabet="ab:-[]{}&*!#'\" \n|>?,0.", max_size=80),
    )
)
def test_libyaml_and_pyyaml_read_alike(text):
    fast = _compose_fast(text)
    if fast is _FAILED:
        return  # the Python parser alone decides: nothing to compare
    try:
        slow = _compose(text, "budgets.yaml")
    except PromptBudgetError:
        return  # libyaml accepts a few odd headers PyYAML refuses ('>#')
    if fast is None or slow is None:
        assert fast is slow
        return
    assert _built(fast) == _built(slow)
