"""Find the artifacts and Messages API calls of one Python module, with `ast`.

Nothing is imported or run. What is found:

- assignments whose name says they hold model input (`SYSTEM_PROMPT`,
  `Prompts.TEMPLATE`, `self.instructions`, a function's local `prompt`), the
  strings inside such dicts and lists, and what prompt-named functions return;
- tool definitions (Anthropic's shape and OpenAI function schemas), alone or
  in lists and mappings;
- message contents in `{"role": ..., "content": ...}` dicts and
  `("system", ...)` pairs, prompt-named keyword arguments (`instructions=`)
  and the text given to template constructors (`PromptTemplate.from_template`);
- Messages API calls (see pycalls), whose inputs become artifacts too.

Every artifact's reference resolves back to the same value through
refs.resolve; values that are built from other modules' names are found
there (`from app.prompts import SYSTEM`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promptbudget import pycalls
from promptbudget.artifacts import (
    Artifact,
    Input,
    is_prompt_name,
    is_prose,
    is_sentences,
    text_kind,
)
from promptbudget.errors import ConfigError
from promptbudget.pyast import (
    SCAN_MAX_TEXT,
    Evaluator,
    NotStatic,
    dotted_name,
    slot_name,
)
from promptbudget.pyblocks import Binding, Block, Module, Modules
from promptbudget.pyplaces import Places, dict_value
from promptbudget.pyrefs import start_line
from promptbudget.refs import Resolved, is_tool, is_tool_list, tool_items
from promptbudget.refs import to_anthropic_tool as _to_tool

SYSTEM_ROLES = {"system", "developer"}
ROLES = {*SYSTEM_ROLES, "user", "human", "assistant", "ai"}
TOOL_KEYS = {"input_schema", "parameters", "function"}  # beside "name"
TEMPLATE_CALL_ENDS = ("Template", "from_template", "from_string")


@dataclass
class ModuleScan:
    artifacts: list[Artifact]
    mentions: set[str]  # prompt file names written as strings in the module


def scan_module(module: Module, modules: Modules, *, llm: bool = False) -> ModuleScan:
    """Artifacts and calls of one parsed module (and what they use elsewhere).

    In an llm module (one that uses an LLM library, or that such a module
    imports) every class attribute or UPPER_CASE module constant of a few
    words' length is taken for a prompt, whatever its name: `Tone.FORMAL`.
    """
    scanner = _Scanner(module, modules)
    scanner.named(loose=llm)
    scanner.tools()
    scanner.roles()
    scanner.keywords()
    pycalls.read_calls(scanner)
    return ModuleScan(list(scanner.found.values()), scanner.places.mentions())


class _Scanner:
    def __init__(self, module: Module, modules: Modules) -> None:
        self.module = module
        self.modules = modules
        self.places = Places(module, modules)
        self.found: dict[str, Artifact] = {}

    def add(self, artifact: Artifact) -> Artifact:
        """Record an artifact once; what a call site says it is wins."""
        key = artifact.reference
        if artifact.kind == "call":
            key = f"{key}@{artifact.line}"
        known = self.found.get(key)
        if known is None:
            self.found[key] = artifact
            return artifact
        if artifact.strength > known.strength:
            known.kind = artifact.kind
            known.strength = artifact.strength
        return known

    def _record(
        self,
        kind: str,
        where: tuple[Module, str, int],
        value: Any,
        touched: set[str],
        strength: int,
    ) -> Artifact:
        module, name, line = where
        own = f"{module.path}::{name}"
        found = frozenset(touched - {own})
        line = module.file_line(line)
        artifact = Artifact(kind, module.path, name, line, value, found)
        artifact.strength = strength
        return self.add(artifact)

    # -- named assignments and prompt functions -------------------------------

    def named(self, *, loose: bool) -> None:
        for block in self.module.top.walk():
            for binding in [*block.bindings.values(), *block.attributes.values()]:
                if is_prompt_name(binding.name):
                    self._named_binding(binding, is_prose)
                elif loose and _is_constant(binding, block):
                    self._named_binding(binding, is_sentences)
            if block.kind == "function" and is_prompt_name(block.qualname):
                self._prompt_function(block)

    def _named_binding(self, binding: Binding, prose: Callable[[Any], bool]) -> None:
        evaluator = Evaluator(self.modules, SCAN_MAX_TEXT)
        try:
            value = evaluator.binding(binding)
        except NotStatic:
            return
        path = self.module.path
        if isinstance(value, str):
            if prose(value):
                kind = text_kind(binding.name, value, path)
                where = (self.module, binding.qualname, binding.line)
                self._record(kind, where, value, evaluator.touched, 1)
            return
        if is_tool_list(value):
            return  # tools() finds it, wherever it sits
        for keys, text in _string_leaves(value):
            if prose(text):
                label = keys[-1] if keys and is_prompt_name(keys[-1]) else binding.name
                name = ".".join([binding.qualname, *keys])
                line = _leaf_line(binding.node, keys) or binding.line
                kind = text_kind(label, text, path)
                self._record(
                    kind, (self.module, name, line), text, evaluator.touched, 1
                )

    def _prompt_function(self, block: Block) -> None:
        node = block.return_node()
        if node is None:
            return
        evaluator = Evaluator(self.modules, SCAN_MAX_TEXT)
        try:
            value = evaluator.value(node, block)
        except NotStatic:
            return
        if is_prose(value):
            kind = text_kind(block.qualname, value, self.module.path)
            line = start_line(block, node, evaluator.touched)
            where = (self.module, block.qualname, line)
            self._record(kind, where, value, evaluator.touched, 1)

    # -- tool definitions ----------------------------------------------------

    def tools(self) -> None:
        """Every static tool definition, as the outermost list or map around it."""
        taken: set[int] = set()
        for node in self._tool_candidates():
            if id(node) in taken:
                continue
            container = self._tool_container(node)
            if container is not None:
                taken.update(id(inner) for inner in ast.walk(container))
                self.tools_input(container, 1)

    def _tool_candidates(self) -> list[ast.expr]:
        found: list[ast.expr] = [
            node
            for node in self.module.nodes(ast.Dict, ast.List, ast.Tuple)
            if isinstance(node, ast.expr)
            and (_looks_like_tool(node) or _looks_like_tool_list(node))
        ]
        for block in self.module.top.walk():
            for binding in [*block.bindings.values(), *block.attributes.values()]:
                lowered = binding.name.lower()
                if ("tool" in lowered or "function" in lowered) and isinstance(
                    binding.node, ast.BinOp
                ):
                    found.append(binding.node)
        return found

    def _tool_container(self, node: ast.expr) -> ast.expr | None:
        if not self._is_tools(node):
            return None
        container = node
        parent = self.module.parent_of(container)
        while isinstance(parent, (ast.List, ast.Tuple, ast.Dict)):
            if not self._is_tools(parent):
                break
            container = parent
            parent = self.module.parent_of(container)
        return container

    def _is_tools(self, node: ast.expr) -> bool:
        try:
            value = Evaluator(self.modules, SCAN_MAX_TEXT).value(
                node, self.places.block_at(node)
            )
        except NotStatic:
            return False
        return is_tool_list(value)

    def tools_input(self, node: ast.expr, strength: int) -> Input | None:
        """A tools artifact for a static expression, by its binding or its place."""
        block = self.places.block_at(node)
        module, name, line = self.module, self.places.address(node), node.lineno
        evaluator = Evaluator(self.modules, SCAN_MAX_TEXT)
        if isinstance(node, (ast.Name, ast.Attribute)):
            binding = self.places.binding_of(node, block)
            if binding is None:
                return None
            module, name, line = binding.block.module, binding.qualname, binding.line
            value_of: Any = lambda: evaluator.binding(binding)  # noqa: E731
        else:
            value_of = lambda: evaluator.value(node, block)  # noqa: E731
        if name is None:
            return None
        try:
            value = value_of()
        except NotStatic:
            return None
        tools = _anthropic_tools(value, module.path, line, name)
        if tools is None:
            return None
        artifact = self._record(
            "tools", (module, name, line), tools, evaluator.touched, strength
        )
        return Input(reference=artifact.reference)

    def returned_tools(self, method: Block) -> Input | None:
        """The tools artifact a method returns (`to_params`), if it is static."""
        node = method.return_node()
        if node is None:
            return None
        evaluator = Evaluator(self.modules, SCAN_MAX_TEXT)
        try:
            value = evaluator.value(node, method)
        except NotStatic:
            return None
        module = method.module
        tools = _anthropic_tools(value, module.path, node.lineno, method.qualname)
        if tools is None:
            return None
        where = (module, method.qualname, node.lineno)
        artifact = self._record("tools", where, tools, evaluator.touched, 2)
        return Input(reference=artifact.reference)

    # -- role messages, prompt keywords, template constructors ---------------

    def roles(self) -> None:
        for node in self.module.nodes(ast.Dict, ast.Tuple):
            if isinstance(node, ast.Dict):
                role = dict_value(node, "role")
                content = dict_value(node, "content")
                if (
                    isinstance(role, ast.Constant)
                    and role.value in ROLES
                    and content is not None
                ):
                    self.contents(content, _role_kind(str(role.value)), 2)
            elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
                first = node.elts[0]
                if (
                    isinstance(first, ast.Constant)
                    and first.value in ROLES
                    and isinstance(self.module.parent_of(node), ast.List)
                ):
                    self.text_input(node.elts[1], _role_kind(str(first.value)), 2)

    def contents(self, node: ast.expr, kind: str, strength: int) -> list[Input]:
        """Inputs for a message content: a text, or a list of content blocks."""
        if not isinstance(node, ast.List):
            return [self.text_input(node, kind, strength)]
        inputs = []
        for element in node.elts:
            if isinstance(element, ast.Dict):
                text = dict_value(element, "text")
                if text is not None:
                    inputs.append(self.text_input(text, kind, strength))
        return inputs

    def keywords(self) -> None:
        for node in self.module.nodes(ast.Call):
            if not isinstance(node, ast.Call) or pycalls.messages_method(node):
                continue
            for keyword in node.keywords:
                if keyword.arg and is_prompt_name(keyword.arg):
                    kind = text_kind(keyword.arg, "", self.module.path)
                    self.text_input(keyword.value, kind, 1, prose=True)
            if dotted_name(node.func).endswith(TEMPLATE_CALL_ENDS) and node.args:
                self.text_input(node.args[0], "template", 1, prose=True)

    def text_input(
        self, node: ast.expr, kind: str, strength: int, *, prose: bool = False
    ) -> Input:
        """An input for a text expression: the artifact it is, or a slot."""
        block = self.places.block_at(node)
        evaluator = Evaluator(self.modules, SCAN_MAX_TEXT)
        if isinstance(node, ast.Call):
            function = self._function_of(node.func, block)
            if function is not None:
                return self._returned(function, node, kind, strength)
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr in ("format", "format_map")
                and isinstance(func.value, (ast.Name, ast.Attribute))
            ):
                # TEMPLATE.format(question=q): the template, its fields slots
                return self.text_input(func.value, "template", strength, prose=prose)
        default = _parameter_default(node, block)
        if default is not None:
            node, block = default
        keyed = self._keyed(node, block, kind, strength)
        if keyed is not None:
            return keyed
        binding = None
        if isinstance(node, (ast.Name, ast.Attribute)):
            binding = self.places.binding_of(node, block)
            if binding is None:
                return Input(slot=slot_name(node), hints=self.places.hints(node, block))
        try:
            if binding is not None:
                value = evaluator.binding(binding)
            else:
                value = evaluator.value(node, block)
        except NotStatic:
            hints = self.places.hints(node, block)
            if binding is not None:
                hints = self.places.hints(binding.node, binding.block)
            return Input(slot=slot_name(node), hints=hints)
        if not isinstance(value, str) or not value.strip():
            return Input()
        if prose and not is_prose(value):
            return Input()
        if binding is not None:
            where = (binding.block.module, binding.qualname, binding.line)
        else:
            name = self.places.address(node)
            if name is None:
                return Input()
            where = (self.module, name, node.lineno)
        kind = _kind_for(kind, where[1], value, where[0].path)
        artifact = self._record(kind, where, value, evaluator.touched, strength)
        return Input(reference=artifact.reference)

    def _keyed(
        self, node: ast.expr, block: Block, kind: str, strength: int
    ) -> Input | None:
        """`PROMPTS["greeting"]`: the artifact at that key of a known value."""
        keys: list[str] = []
        root = node
        while isinstance(root, ast.Subscript):
            key = root.slice
            if not isinstance(key, ast.Constant) or isinstance(key.value, bool):
                return None
            if not isinstance(key.value, (str, int)) or "." in str(key.value):
                return None
            keys.insert(0, str(key.value))
            root = root.value
        if not keys or not isinstance(root, (ast.Name, ast.Attribute)):
            return None
        binding = self.places.binding_of(root, block)
        if binding is None:
            return None
        evaluator = Evaluator(self.modules, SCAN_MAX_TEXT)
        try:
            value = evaluator.value(node, block)
        except NotStatic:
            return None
        if not isinstance(value, str) or not value.strip():
            return None
        module = binding.block.module
        name = ".".join([binding.qualname, *keys])
        line = _leaf_line(binding.node, keys) or binding.line
        where = (module, name, line)
        artifact = self._record(kind, where, value, evaluator.touched, strength)
        return Input(reference=artifact.reference)

    def _function_of(self, node: ast.expr, block: Block) -> Block | None:
        try:
            target = Evaluator(self.modules, SCAN_MAX_TEXT).namespace(node, block)
        except NotStatic:
            return None
        if isinstance(target, Block) and target.kind == "function":
            return target
        return None

    def _returned(
        self, function: Block, call: ast.Call, kind: str, strength: int
    ) -> Input:
        """`build_prompt(question)`: the text the function returns, as a template."""
        node = function.return_node()
        evaluator = Evaluator(self.modules, SCAN_MAX_TEXT)
        try:
            value = evaluator.value(node, function) if node is not None else None
        except NotStatic:
            value = None
        if node is None or not isinstance(value, str) or not value.strip():
            return Input(slot=slot_name(call))
        line = start_line(function, node, evaluator.touched)
        where = (function.module, function.qualname, line)
        artifact = self._record(kind, where, value, evaluator.touched, strength)
        return Input(reference=artifact.reference)


def _is_constant(binding: Binding, block: Block) -> bool:
    """A class attribute or an UPPER_CASE module name: where unnamed prompts live.

    A lowercase module variable in a script or notebook is mostly sample data.
    """
    if block.kind == "class":
        return True
    return block.kind == "module" and binding.name.isupper()


def _parameter_default(node: ast.expr, block: Block) -> tuple[ast.expr, Block] | None:
    """`def ask(system=DEFAULT_SYSTEM)`: what `system` is unless a caller says.

    A default is evaluated where the function is defined, in the outer block.
    """
    if not isinstance(node, ast.Name) or block.kind != "function":
        return None
    if node.id in block.bindings or block.parent is None:
        return None
    function = block.node
    assert isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    with_defaults = positional[len(positional) - len(args.defaults) :]
    pairs = list(zip(with_defaults, args.defaults, strict=True))
    pairs += [
        (a, d)
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
        if d is not None
    ]
    for arg, default in pairs:
        if arg.arg == node.id and not _is_none(default):
            outer = block.parent
            while outer.kind == "class" and outer.parent is not None:
                outer = outer.parent
            return default, outer
    return None


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _kind_for(kind: str, name: str, value: str, path: str) -> str:
    """A user message's text named like a system prompt is a system prompt."""
    last = name.rsplit(".", 1)[-1].lower()
    if kind == "template" and "system" in last:
        return text_kind(name, value, path)
    return kind


def _role_kind(role: str) -> str:
    return "system" if role in SYSTEM_ROLES else "template"


def _looks_like_tool(node: ast.AST) -> bool:
    if not isinstance(node, ast.Dict):
        return False
    keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
    return "name" in keys and bool(keys & TOOL_KEYS) or {"type", "name"} <= keys


def _looks_like_tool_list(node: ast.AST) -> bool:
    if not isinstance(node, (ast.List, ast.Tuple)) or not node.elts:
        return False
    return all(isinstance(e, (ast.Name, ast.Attribute)) for e in node.elts)


def _string_leaves(
    value: Any, keys: tuple[str, ...] = ()
) -> list[tuple[list[str], str]]:
    """(key path, text) for every string in nested dicts and lists."""
    if isinstance(value, str):
        return [(list(keys), value)]
    found: list[tuple[list[str], str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            text = str(key)
            if isinstance(key, (str, int)) and text and "." not in text:
                found.extend(_string_leaves(item, (*keys, text)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(_string_leaves(item, (*keys, str(i))))
    return found


def _leaf_line(node: ast.expr, keys: list[str]) -> int | None:
    for key in keys:
        if isinstance(node, ast.Dict):
            step = dict_value(node, key)
            if step is None:
                return None
            node = step
        elif isinstance(node, (ast.List, ast.Tuple)) and key.isdigit():
            if int(key) >= len(node.elts):
                return None
            node = node.elts[int(key)]
        else:
            return None
    return node.lineno


def _anthropic_tools(
    value: Any, path: str, line: int, name: str
) -> list[dict[str, Any]] | None:
    if not is_tool_list(value):
        return None
    found = Resolved(value, path, line, f"{path}::{name}")
    try:
        return [_to_tool(item, found) for item in tool_items(value) if is_tool(item)]
    except ConfigError:
        return None
