"""Read values out of Python source with `ast`: never imported, never run.

Only what can be known without executing anything is resolved: literals,
implicit and `+` concatenation of strings, names bound earlier in the same
module, `textwrap.dedent`, `inspect.cleandoc` and `.strip()` of those.
Anything else is reported as not statically known.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from typing import Any

from promptbudget.errors import ConfigError

# Deeply nested expressions make the parser (or our walk) recurse; cap the
# source size we accept so a hostile file cannot exhaust memory either.
MAX_SOURCE_CHARS = 8 * 1024 * 1024


class NotStatic(Exception):
    """An expression whose value cannot be known without running code."""


@dataclass(frozen=True)
class Binding:
    """A module- or class-level assignment: its name, value node and line."""

    name: str
    node: ast.expr
    line: int


def parse_module(source: str, path: str) -> ast.Module:
    """Parse source, turning every parser failure into a ConfigError."""
    if len(source) > MAX_SOURCE_CHARS:
        raise ConfigError(f"{path}: Python source too large to read statically")
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise ConfigError(
            f"{path}:{exc.lineno or 1}: Python syntax error ({exc.msg}); "
            "fix the file so it parses"
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise ConfigError(
            f"{path}: Python source nests too deeply or is malformed; "
            "promptbudget cannot read it statically"
        ) from None


def bindings(body: list[ast.stmt]) -> dict[str, Binding]:
    """The last assignment to each plain name in a block of statements."""
    found: dict[str, Binding] = {}
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = Binding(target.id, stmt.value, stmt.lineno)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            if isinstance(stmt.target, ast.Name):
                found[stmt.target.id] = Binding(stmt.target.id, stmt.value, stmt.lineno)
    return found


def find_binding(module: ast.Module, dotted: str) -> Binding | None:
    """A module-level NAME or a class-level Class.NAME."""
    parts = dotted.split(".")
    body: list[ast.stmt] = module.body
    for class_name in parts[:-1]:
        classes = [
            s for s in body if isinstance(s, ast.ClassDef) and s.name == class_name
        ]
        if not classes:
            return None
        body = classes[-1].body
    return bindings(body).get(parts[-1])


class Evaluator:
    """Evaluate expressions statically within one block's bindings."""

    def __init__(self, scope: dict[str, Binding]) -> None:
        self.scope = scope
        self._active: set[str] = set()

    def value(self, node: ast.expr) -> Any:
        try:
            return self._eval(node)
        except RecursionError:
            raise NotStatic("expression nests too deeply") from None

    def _eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self._eval(item) for item in node.elts]
        if isinstance(node, ast.Dict):
            return self._dict(node)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._add(self._eval(node.left), self._eval(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self._eval(node.operand)
            if isinstance(operand, (int, float)):
                return -operand
        if isinstance(node, ast.Call):
            return self._call(node)
        raise NotStatic(type(node).__name__)

    def _dict(self, node: ast.Dict) -> dict[Any, Any]:
        result = {}
        for key, item in zip(node.keys, node.values, strict=True):
            if key is None:
                merged = self._eval(item)
                if not isinstance(merged, dict):
                    raise NotStatic("** of a non-dict")
                result.update(merged)
            else:
                result[self._eval(key)] = self._eval(item)
        return result

    def _name(self, name: str) -> Any:
        binding = self.scope.get(name)
        if binding is None or name in self._active:
            raise NotStatic(f"name {name}")
        self._active.add(name)
        try:
            return self._eval(binding.node)
        finally:
            self._active.discard(name)

    @staticmethod
    def _add(left: Any, right: Any) -> Any:
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(left, list) and isinstance(right, list):
            return left + right
        raise NotStatic("+ of mixed values")

    def _call(self, node: ast.Call) -> Any:
        func = node.func
        if node.keywords or len(node.args) > 1:
            raise NotStatic("call")
        if isinstance(func, ast.Attribute) and func.attr in (
            "strip",
            "lstrip",
            "rstrip",
        ):
            if not node.args:
                text = self._eval(func.value)
                if isinstance(text, str):
                    return getattr(text, func.attr)()
        name = _dotted(func)
        if name in ("dedent", "textwrap.dedent", "cleandoc", "inspect.cleandoc"):
            if len(node.args) == 1:
                text = self._eval(node.args[0])
                if isinstance(text, str):
                    if name.endswith("dedent"):
                        return textwrap.dedent(text)
                    import inspect  # only here: it is slow to import

                    return inspect.cleandoc(text)
        raise NotStatic("call")


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def read_value(source: str, path: str, dotted: str) -> tuple[Any, int]:
    """The static value bound to NAME (or Class.NAME) in a Python file, and its line."""
    module = parse_module(source, path)
    binding = find_binding(module, dotted)
    if binding is None:
        raise ConfigError(
            f"{path}: no module-level assignment to '{dotted}'; "
            f"check the name after '::' in the reference"
        )
    scope = bindings(module.body)
    if "." in dotted:
        class_body = _class_body(module, dotted.rsplit(".", 1)[0])
        scope = {**scope, **bindings(class_body)}
    try:
        return Evaluator(scope).value(binding.node), binding.line
    except NotStatic as exc:
        raise ConfigError(
            f"{path}:{binding.line}: '{dotted}' is not a literal promptbudget can "
            f"read without running code ({exc}); assign a string or list literal"
        ) from None


def _class_body(module: ast.Module, dotted: str) -> list[ast.stmt]:
    body: list[ast.stmt] = module.body
    for class_name in dotted.split("."):
        body = [
            s for s in body if isinstance(s, ast.ClassDef) and s.name == class_name
        ][-1].body
    return body
