"""Where a node of a parsed module sits: its block, its binding, its reference.

A reference must resolve back to the node through pyast.resolve_name, so a
node gets a name only when it is (inside) a top-level assignment of its block
(`NAME.key.0`), or the keyword argument of the first call in its block that
passes that keyword (`function.messages.0.content`).
"""

from __future__ import annotations

import ast

from promptbudget.pyast import SCAN_MAX_TEXT, Evaluator, NotStatic
from promptbudget.pyblocks import Binding, Block, Module, Modules
from promptbudget.pyrefs import keyword_call

PROMPT_FILE_SUFFIXES = (
    ".md",
    ".txt",
    ".prompt",
    ".prompty",
    ".j2",
    ".jinja",
    ".jinja2",
)


class Places:
    def __init__(self, module: Module, modules: Modules) -> None:
        self.module = module
        self.modules = modules
        self._blocks = {id(b.node): b for b in module.top.walk()}

    def block_at(self, node: ast.AST) -> Block:
        """The innermost class or function body (or the module) holding node."""
        current = self.module.parent_of(node)
        while current is not None:
            block = self._blocks.get(id(current))
            if block is not None:
                return block
            current = self.module.parent_of(current)
        return self.module.top

    def binding_of(self, node: ast.expr, block: Block) -> Binding | None:
        """The assignment a name or dotted name stands for, in any module."""
        try:
            target = Evaluator(self.modules, SCAN_MAX_TEXT).namespace(node, block)
        except NotStatic:
            return None
        return target if isinstance(target, Binding) else None

    def method_of(self, made: ast.expr, name: str, block: Block) -> Block | None:
        """The method `name` of the class `made` constructs (`BashTool()`)."""
        if not isinstance(made, ast.Call):
            return None
        try:
            target = Evaluator(self.modules, SCAN_MAX_TEXT).namespace(made.func, block)
        except NotStatic:
            return None
        if not isinstance(target, Block) or target.kind != "class":
            return None
        method = target.children.get(name)
        return method if method is not None and method.kind == "function" else None

    def list_node(self, node: ast.expr, block: Block) -> ast.List | None:
        """A list literal, directly or through the name bound to it."""
        if isinstance(node, ast.List):
            return node
        if isinstance(node, (ast.Name, ast.Attribute)):
            binding = self.binding_of(node, block)
            if binding is not None and isinstance(binding.node, ast.List):
                return binding.node
        return None

    def address(self, node: ast.expr) -> str | None:
        """The name after '::' that resolves to node, or None when none does."""
        parts: list[str] = []  # innermost first
        by_keyword: str | None = None  # `scope.keyword...`, if a call allows it
        current: ast.AST = node
        while True:
            parent = self.module.parent_of(current)
            if isinstance(parent, ast.keyword):
                call = self.module.parent_of(parent)
                if parent.arg is None or not isinstance(call, ast.Call):
                    return by_keyword
                parts.append(parent.arg)
                block = self.block_at(call)
                if by_keyword is None and keyword_call(block, parent.arg) is call:
                    by_keyword = block.qualify(".".join(reversed(parts)))
                    if is_messages_call(call):
                        return by_keyword  # `answer.system` reads best
                current = call
                continue
            if isinstance(parent, (ast.Assign, ast.AnnAssign)):
                return self._assigned(parent, current, parts[::-1]) or by_keyword
            if isinstance(parent, ast.Return) and not parts:
                function = self.block_at(parent)
                if function.kind == "function" and function.return_node() is current:
                    return function.qualname
                return None
            step = _step_name(parent, current)
            if step is None:
                return by_keyword
            parts.append(step)
            assert parent is not None
            current = parent

    def _assigned(
        self, stmt: ast.Assign | ast.AnnAssign, value: ast.AST, path: list[str]
    ) -> str | None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        block = self.block_at(stmt)
        for target in reversed(targets):
            binding: Binding | None = None
            if isinstance(target, ast.Name):
                binding = block.bindings.get(target.id)
            elif isinstance(target, ast.Attribute) and block.parent is not None:
                if block.parent.kind == "class":
                    binding = block.parent.attributes.get(target.attr)
            if binding is not None and binding.node is value:
                return ".".join([binding.qualname, *path])
        return None

    def hints(self, node: ast.expr, block: Block, depth: int = 3) -> tuple[str, ...]:
        """Prompt file names an expression mentions, also through local names.

        `templates.get_template("answer.j2").render(...)` mentions answer.j2:
        the template a call sends is that file, rendered at run time.
        """
        found: list[str] = []
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                if sub.value.endswith(PROMPT_FILE_SUFFIXES):
                    found.append(sub.value)
            elif isinstance(sub, ast.Name) and depth > 0:
                binding = block.bindings.get(sub.id)
                if binding is not None:
                    found.extend(self.hints(binding.node, block, depth - 1))
        return tuple(dict.fromkeys(found))

    def mentions(self) -> set[str]:
        """Every prompt file name written as a string in the module."""
        return {
            node.value
            for node in self.module.nodes(ast.Constant)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and len(node.value) < 300
            and node.value.endswith(PROMPT_FILE_SUFFIXES)
        }


def is_messages_call(call: ast.Call) -> bool:
    """`<client>.messages.<method>(...)`, roughly: enough to pick a name's form."""
    func = call.func
    while isinstance(func, ast.Attribute):
        if func.attr == "messages":
            return True
        func = func.value
    return False


def _step_name(parent: ast.AST | None, child: ast.AST) -> str | None:
    """The key-path part that leads from parent to child, if there is one."""
    if isinstance(parent, ast.Dict):
        for key, value in zip(parent.keys, parent.values, strict=True):
            if value is child:
                return _key_text(key)
        return None
    if isinstance(parent, (ast.List, ast.Tuple)):
        if any(isinstance(e, ast.Starred) for e in parent.elts):
            return None
        return _position(parent.elts, child)
    if isinstance(parent, ast.Call) and child is not parent.func:
        return _position(parent.args, child)
    return None


def _key_text(key: ast.expr | None) -> str | None:
    if not isinstance(key, ast.Constant) or isinstance(key.value, bool):
        return None
    if not isinstance(key.value, (str, int)):
        return None
    text = str(key.value)
    return text if text and "." not in text else None


def _position(items: list[ast.expr], child: ast.AST) -> str | None:
    for i, item in enumerate(items):
        if item is child:
            return str(i)
    return None


def dict_value(node: ast.Dict, key: str) -> ast.expr | None:
    """The value node under a constant key of a dict literal."""
    for k, v in zip(node.keys, node.values, strict=True):
        if isinstance(k, ast.Constant) and k.value == key:
            return v
    return None
