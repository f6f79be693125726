"""Load YAML safely, keeping the line and column of every value.

Built on PyYAML's safe composer: no tag can construct a Python object,
duplicate keys are errors rather than silently overwritten, and alias
expansion is bounded so an alias bomb fails fast instead of eating memory.
"""

from __future__ import annotations

from typing import Any

import yaml

from promptbudget.errors import ConfigError

Mark = tuple[int, int]
Marks = dict[tuple[Any, ...], Mark]

MAX_NODES = 200_000
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"


def load_yaml(text: str, path: str) -> tuple[Any, Marks]:
    """Parse YAML into plain data and a map from key path to (line, column).

    A mapping entry is marked where its key stands, so messages point at the key.
    """
    node = _compose_fast(text)
    if node is _FAILED:
        node = _compose(text, path)
    if node is None:
        return None, {}
    builder = _Builder(path)
    return builder.build(node, ()), builder.marks


_FAILED = yaml.Node("", "", None, None)
_FastLoader = getattr(yaml, "CSafeLoader", None)  # libyaml, when PyYAML has it


def _compose_fast(text: str) -> Any:
    """Compose with libyaml, several times faster on a large budgets.yaml.

    Anything it cannot compose goes to PyYAML's own parser, whose error
    messages are the ones documented, and so does any text with a tag (`!`)
    or a tab, where the two read some text differently (an empty scalar
    tagged `!`; tabs libyaml accepts and PyYAML refuses).
    """
    if _FastLoader is None or "!" in text or "\t" in text:
        return _FAILED
    try:
        return yaml.compose(text, Loader=_FastLoader)
    except Exception:  # noqa: BLE001 - any failure: let the Python parser say why
        return _FAILED


def _compose(text: str, path: str) -> Any:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_syntax_message(exc, path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {exc}") from None


def _syntax_message(exc: yaml.MarkedYAMLError, path: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if mark is None:
        return f"{path}: YAML syntax error: {problem}"
    return (
        f"{path}:{mark.line + 1}:{mark.column + 1}: YAML syntax error: {problem}; "
        "fix the YAML at that position"
    )


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.marks: Marks = {}
        self.nodes = 0
        self.loader = yaml.SafeLoader("")

    def build(
        self, node: yaml.Node, key_path: tuple[Any, ...], at: yaml.Node | None = None
    ) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ConfigError(
                f"{self.path}: YAML expands to more than {MAX_NODES:,} values "
                "(aliases nested too deeply?); write the values out plainly"
            )
        mark = (at or node).start_mark
        self.marks.setdefault(key_path, (mark.line + 1, mark.column + 1))
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if node.tag not in (MAP_TAG, SEQ_TAG):
                raise self._error(
                    node, f"the tag '{node.tag}' is not allowed; remove the tag"
                )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, key_path)
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(item, (*key_path, i)) for i, item in enumerate(node.value)
            ]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, key_path: tuple[Any, ...]) -> dict:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self._error(key_node, "merge keys (<<) are not supported")
            key = self._scalar(key_node)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise self._error(key_node, "mapping keys must be plain scalars")
            if key in result:
                raise self._error(
                    key_node, f"duplicate key '{key}'; keep one of the two"
                )
            result[key] = self.build(value_node, (*key_path, key), key_node)
        return result

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self._error(node, "expected a plain value here")
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            problem = (exc.problem or "unsupported value").split(" in ")[0]
            raise self._error(node, f"{problem}; remove the tag") from None

    def _error(self, node: yaml.Node, message: str) -> ConfigError:
        mark = node.start_mark
        return ConfigError(f"{self.path}:{mark.line + 1}:{mark.column + 1}: {message}")
