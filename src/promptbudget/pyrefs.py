"""References into Python modules: `path.py::NAME`, `Class.NAME`, `func.name.0`.

The name after '::' is read left to right: class and function names step
into their blocks; then comes the name bound there (`NAME`, a class's `NAME`
or `self.NAME`, a function's local); any further parts index into the value
(dict keys, list positions, a call's keyword arguments). A name that no
assignment binds may be the keyword of a call in that block
(`answer.system` is the `system=` of the first call in `answer` that passes
one); a name that ends at a function is the value it returns.
"""

from __future__ import annotations

import ast
from typing import Any

from promptbudget.errors import ConfigError
from promptbudget.pyast import Evaluator, NotStatic, Value, keyword_of
from promptbudget.pyblocks import Binding, Block, Module, Modules, build_module


def resolve_name(module: Module, dotted: str, modules: Modules | None) -> Value:
    """The value a reference's name (after '::') stands for in a parsed module."""
    parts = dotted.split(".")
    block = module.top
    i = 0
    while i < len(parts) and parts[i] in block.children:
        if parts[i] in block.bindings:
            break
        block = block.children[parts[i]]
        i += 1
    evaluator = Evaluator(modules)
    if i == len(parts):
        node = block.return_node() if block.kind == "function" else None
        if node is None:
            raise NotStatic(f"'{dotted}' is a {block.kind} with no value to read")
        found = _navigate(evaluator, node, block, [], dotted)
        found.line = start_line(block, node, found.touched)
        return found
    binding = _binding(block, parts[i])
    if binding is not None:
        evaluator.touched.add(f"{module.path}::{binding.qualname}")
        evaluator._active.add((module.path, binding.qualname))
        rest = parts[i + 1 :]
        found = _navigate(evaluator, binding.node, binding.block, rest, dotted)
        if not rest:
            found.line = binding.line
        return found
    call = keyword_call(block, parts[i])
    if call is None:
        raise LookupError(dotted)
    node = keyword_of(call, parts[i])
    assert node is not None
    return _navigate(evaluator, node, block, parts[i + 1 :], dotted)


def start_line(function: Block, node: ast.expr, touched: set[str]) -> int:
    """Where a returned text starts: its earliest local part, or the return."""
    path = function.module.path
    lines = [
        binding.line
        for binding in function.bindings.values()
        if f"{path}::{binding.qualname}" in touched
    ]
    return min([*lines, node.lineno])


def _binding(block: Block, name: str) -> Binding | None:
    binding = block.bindings.get(name)
    if binding is None and block.kind == "class":
        binding = block.attributes.get(name)
    return binding


def keyword_call(block: Block, name: str) -> ast.Call | None:
    """The call a reference `scope.name` means when no assignment binds name.

    It is the first call in the block, in source order, that passes name= .
    """
    if name in block.locals or name in block.imports or name in block.children:
        return None
    for call in block.calls():
        if keyword_of(call, name) is not None:
            return call
    return None


def _navigate(
    evaluator: Evaluator, node: ast.expr, block: Block, parts: list[str], dotted: str
) -> Value:
    for i, part in enumerate(parts):
        node, block = _follow(evaluator, node, block)
        step = _step(node, part)
        if step is None:
            value = evaluator.value(node, block)
            return Value(
                _index(value, parts[i:], dotted), node.lineno, evaluator.touched
            )
        node = step
    value = evaluator.value(node, block)
    return Value(value, node.lineno, evaluator.touched)


def _follow(
    evaluator: Evaluator, node: ast.expr, block: Block
) -> tuple[ast.expr, Block]:
    """Through names and attributes to the node they are bound to."""
    for _ in range(64):
        if not isinstance(node, (ast.Name, ast.Attribute)):
            break
        try:
            target = evaluator.namespace(node, block)
        except NotStatic:
            break
        if not isinstance(target, Binding):
            break
        evaluator.touched.add(f"{target.block.module.path}::{target.qualname}")
        node, block = target.node, target.block
    return node, block


def _step(node: ast.expr, part: str) -> ast.expr | None:
    """One part of a key path, taken in the syntax tree where it can be."""
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and str(key.value) == part:
                return value
    elif isinstance(node, (ast.List, ast.Tuple)) and part.isdigit():
        index = int(part)
        if index < len(node.elts) and not isinstance(node.elts[index], ast.Starred):
            return node.elts[index]
    elif isinstance(node, ast.Call):
        if part.isdigit():
            index = int(part)
            if index < len(node.args):
                return node.args[index]
        return keyword_of(node, part)
    return None


def _index(value: Any, parts: list[str], dotted: str) -> Any:
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise LookupError(dotted)
    return value


def read_value(
    source: str, path: str, dotted: str, modules: Modules | None = None
) -> tuple[Any, int]:
    """The static value a name stands for in a Python file, and its line."""
    found = read_reference(build_module(source, path), dotted, modules)
    return found.value, found.line


def read_reference(module: Module, dotted: str, modules: Modules | None) -> Value:
    """Like read_value, for a parsed module, with what the value was read from."""
    path = module.path
    try:
        found = resolve_name(module, dotted, modules)
        found.line = module.file_line(found.line)
        return found
    except LookupError:
        what = (
            "assignment, keyword or key"
            if "." in dotted
            else "module-level assignment to"
        )
        raise ConfigError(
            f"{path}: no {what} '{dotted}'; check the name after '::' in the reference"
        ) from None
    except NotStatic as exc:
        line = module.file_line(_line_of(module, dotted))
        raise ConfigError(
            f"{path}:{line}: '{dotted}' is not a literal promptbudget can "
            f"read without running code ({exc}); assign a string or list literal"
        ) from None
    except RecursionError:
        raise ConfigError(f"{path}: '{dotted}' nests too deeply to read") from None


def _line_of(module: Module, dotted: str) -> int:
    block = module.top
    for part in dotted.split("."):
        if part in block.bindings:
            return block.bindings[part].line
        if part in block.attributes:
            return block.attributes[part].line
        if part not in block.children:
            break
        block = block.children[part]
    node = block.node
    return getattr(node, "lineno", 1)
