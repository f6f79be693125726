"""Read values out of Python source with `ast`: never imported, never run.

Only what can be known without executing anything is resolved: literals,
implicit and `+` concatenation, names bound in the same module or imported
from another module of the repository, `textwrap.dedent`, `inspect.cleandoc`,
`.strip()`, `str.join` and subscripts of those. f-strings and `.format`
templates keep what is static and turn every other field into a slot
(`FormatText`). Anything else is reported as not statically known.
"""

from __future__ import annotations

import ast
import re
import string
import textwrap
from dataclasses import dataclass, field
from typing import Any

from promptbudget.pyblocks import Binding, Block, Import, Module, Modules
from promptbudget.templates import FormatText

STRIPS = ("strip", "lstrip", "rstrip")
DEDENTS = ("dedent", "textwrap.dedent", "cleandoc", "inspect.cleandoc")
# Calls whose first argument (or template=) is a template's text: jinja2,
# LangChain and similar prompt-template constructors.
TEMPLATE_CALLS = re.compile(r"(^|\.)(\w*Template|from_template|from_string)$")
DEFAULT_CALLS = ("Field", "field", "pydantic.Field", "dataclasses.field")


class NotStatic(Exception):
    """An expression whose value cannot be known without running code."""


@dataclass(frozen=True)
class ModuleRef:
    """A name that stands for a module of the repository (`import app.prompts`)."""

    module: Module


@dataclass
class Value:
    """A resolved reference: the value, the line it starts on, what it read."""

    value: Any
    line: int
    touched: set[str] = field(default_factory=set)


def slot_name(node: ast.expr) -> str:
    """A slot's name for a field or input known only at run time.

    `question` for `{question}`, `chunks` for `"\\n".join(chunks)`,
    `system_prompt` for `config["system_prompt"]` or `config.get("system_prompt")`.
    """
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and _is_slot(key.value):
            return str(key.value)
        return slot_name(node.value)
    if isinstance(node, ast.Starred):
        return slot_name(node.value)
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
        return slot_name(node.generators[0].iter)
    if isinstance(node, ast.BoolOp):
        return slot_name(node.values[0])
    if isinstance(node, ast.IfExp):
        return slot_name(node.body)
    if isinstance(node, ast.BinOp):
        dynamic = [
            n for n in (node.left, node.right) if not isinstance(n, ast.Constant)
        ]
        return slot_name(dynamic[0]) if dynamic else "value"
    if isinstance(node, ast.Await):
        return slot_name(node.value)
    if isinstance(node, ast.Call):
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and _is_slot(first.value):
            return str(first.value)
        if isinstance(first, ast.Constant) and (stem := _file_stem(first.value)):
            return stem
        if first is not None and not isinstance(first, ast.Constant):
            return slot_name(first)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in PASS_THROUGH:
            return slot_name(func.value)
        return slot_name(func)
    return "value"


# Methods that hand back what they were given, reshaped: the slot is named
# after what they are called on (`open("system.md").read()` is `system`).
PASS_THROUGH = frozenset(
    {
        "read",
        "read_text",
        "decode",
        "strip",
        "lstrip",
        "rstrip",
        "lower",
        "upper",
        "format",
        "format_map",
        "render",
        "substitute",
        "safe_substitute",
    }
)


def _file_stem(value: object) -> str | None:
    """`system_prompt` for "app/system_prompt.md": a file's name as a slot."""
    if not isinstance(value, str) or "/" not in value and "." not in value:
        return None
    stem = value.rsplit("/", 1)[-1].split(".", 1)[0].replace("-", "_")
    return stem if stem.isidentifier() else None


def _is_slot(value: object) -> bool:
    return isinstance(value, str) and value.isidentifier()


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _as_format(text: str) -> str:
    """text as it reads inside format syntax."""
    return text if isinstance(text, FormatText) else _escape(text)


# The count_tokens endpoint takes 32 MB: a longer text cannot be a prompt.
MAX_TEXT = 32 * 2**20
# Discovery reads files up to 2 MB, and no text built from them beyond that.
SCAN_MAX_TEXT = 2 * 2**20
# Far more expression nodes than the largest literal a 2 MB source can hold.
MAX_STEPS = 5_000_000


class Evaluator:
    """Evaluate expressions statically, in the block they appear in."""

    def __init__(
        self, modules: Modules | None = None, max_text: int = MAX_TEXT
    ) -> None:
        self.modules = modules
        self.max_text = max_text
        self.touched: set[str] = set()
        self._active: set[tuple[str, str]] = set()
        self._steps = 0
        # Each binding is evaluated once: `B = A + A; C = B + B; ...` would
        # otherwise take time doubling with every line.
        self._known: dict[tuple[str, str], tuple[Any, set[str]]] = {}

    # -- entry points --------------------------------------------------------

    def value(self, node: ast.expr, block: Block) -> Any:
        try:
            return self._eval(node, block)
        except RecursionError:
            raise NotStatic("expression nests too deeply") from None

    def binding(self, binding: Binding) -> Any:
        key = (binding.block.module.path, binding.qualname)
        if key in self._known:
            value, touched = self._known[key]
            self.touched |= touched
            return value
        if key in self._active:
            raise NotStatic(f"name {binding.name} refers to itself")
        self._active.add(key)
        outer, self.touched = self.touched, {f"{key[0]}::{key[1]}"}
        try:
            value = self.value(binding.node, binding.block)
            if isinstance(value, str) and len(value) > self.max_text:
                raise NotStatic(
                    f"name {binding.name} builds a text over "
                    f"{self.max_text // 2**20} MB"
                )
            self._known[key] = (value, self.touched)
            return value
        finally:
            self._active.discard(key)
            outer |= self.touched
            self.touched = outer

    # -- names ---------------------------------------------------------------

    def lookup(self, name: str, block: Block) -> Binding | Block | ModuleRef:
        """What a name means in block, following Python's scoping rules."""
        current: Block | None = block
        while current is not None:
            if current.kind != "class" or current is block:
                if name in current.bindings:
                    return current.bindings[name]
                if name in current.children:
                    return current.children[name]
                if name in current.imports:
                    return self._imported(current, current.imports[name], name)
                if current.kind == "function" and name in current.locals:
                    raise NotStatic(f"name {name} is set at run time")
            current = current.parent
        raise NotStatic(f"name {name}")

    def _imported(
        self, block: Block, imp: Import, name: str
    ) -> Binding | Block | ModuleRef:
        if self.modules is None:
            raise NotStatic(f"imported name {name}")
        importer = block.module.path
        if imp.name is None:
            module = self.modules.find(importer, imp.module, 0)
            if module is None:
                raise NotStatic(f"module {imp.module} is not in the repository")
            return ModuleRef(module)
        module = self.modules.find(importer, imp.module, imp.level)
        if module is None:
            raise NotStatic(f"module {imp.module or '.'} is not in the repository")
        key = (module.path, f"import {imp.name}")
        if key in self._active:
            raise NotStatic(f"import cycle at {imp.name}")
        self._active.add(key)
        try:
            return self._member(module, imp.name)
        finally:
            self._active.discard(key)

    def _member(self, module: Module, name: str) -> Binding | Block | ModuleRef:
        top = module.top
        if name in top.bindings:
            return top.bindings[name]
        if name in top.children:
            return top.children[name]
        if name in top.imports:
            return self._imported(top, top.imports[name], name)
        if self.modules is not None:
            package = module.path
            if package.endswith("__init__.py"):
                sub = self.modules.find(package, name, 1)
                if sub is not None:
                    return ModuleRef(sub)
        raise NotStatic(f"{module.path} has no static {name}")

    def namespace(self, node: ast.expr, block: Block) -> Binding | Block | ModuleRef:
        """What a dotted name such as `prompts.SYSTEM` or `self.SYSTEM` stands for."""
        if isinstance(node, ast.Name):
            return self.lookup(node.id, block)
        if not isinstance(node, ast.Attribute):
            raise NotStatic(type(node).__name__)
        if isinstance(node.value, ast.Name):
            owner = _method_owner(block, node.value.id)
            if owner is not None:
                return _class_member(owner, node.attr)
        outer = self.namespace(node.value, block)
        if isinstance(outer, ModuleRef):
            return self._member(outer.module, node.attr)
        if isinstance(outer, Block) and outer.kind == "class":
            return _class_member(outer, node.attr)
        raise NotStatic(f"attribute {node.attr}")

    def _resolved(self, target: Binding | Block | ModuleRef) -> Any:
        if isinstance(target, Binding):
            return self.binding(target)
        raise NotStatic("a module, class or function is not a value")

    # -- expressions ---------------------------------------------------------

    def _eval(self, node: ast.expr, block: Block) -> Any:
        self._steps += 1
        if self._steps > MAX_STEPS:
            # `x = x + x` line after line shares one node many times over
            raise NotStatic(
                f"it takes over {MAX_STEPS:,} steps to read; build it more plainly"
            )
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bytes):
                raise NotStatic("bytes")
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self._eval(item, block) for item in node.elts]
        if isinstance(node, ast.Dict):
            return self._dict(node, block)
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self._resolved(self.namespace(node, block))
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node, block)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return _add(self._eval(node.left, block), self._eval(node.right, block))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self._eval(node.operand, block)
            if isinstance(operand, (int, float)) and not isinstance(operand, bool):
                return -operand
        if isinstance(node, ast.Subscript):
            return self._subscript(node, block)
        if isinstance(node, ast.Call):
            return self._call(node, block)
        raise NotStatic(type(node).__name__)

    def _dict(self, node: ast.Dict, block: Block) -> dict[Any, Any]:
        result = {}
        for key, item in zip(node.keys, node.values, strict=True):
            if key is None:
                merged = self._eval(item, block)
                if not isinstance(merged, dict):
                    raise NotStatic("** of a non-dict")
                result.update(merged)
            else:
                result[self._eval(key, block)] = self._eval(item, block)
        return result

    def _subscript(self, node: ast.Subscript, block: Block) -> Any:
        container = self._eval(node.value, block)
        index = self._eval(node.slice, block)
        try:
            return container[index]
        except (KeyError, IndexError, TypeError):
            raise NotStatic("subscript") from None

    def _fstring(self, node: ast.JoinedStr, block: Block) -> str:
        pieces: list[str] = []
        dynamic = False
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                pieces.append(_escape(part.value))
                continue
            assert isinstance(part, ast.FormattedValue)
            try:
                text = self._field_text(part, block)
            except NotStatic:
                pieces.append("{" + slot_name(part.value) + "}")
                dynamic = True
                continue
            dynamic = dynamic or isinstance(text, FormatText)
            pieces.append(_as_format(text))
        return _finish("".join(pieces), dynamic)

    def _field_text(self, part: ast.FormattedValue, block: Block) -> str:
        value = self._eval(part.value, block)
        if isinstance(value, (list, dict)) or value is None:
            raise NotStatic("a container in an f-string")
        if part.conversion == ord("r"):
            value = repr(value)
        elif part.conversion == ord("a"):
            value = ascii(value)
        spec = ""
        if part.format_spec is not None:
            spec = self._eval(part.format_spec, block)
            if isinstance(spec, FormatText):
                raise NotStatic("dynamic format spec")
        return _formatted(value, spec)

    def _call(self, node: ast.Call, block: Block) -> Any:
        func = node.func
        name = dotted_name(func)
        if isinstance(func, ast.Attribute):
            if func.attr in STRIPS and not node.args and not node.keywords:
                text = self._text(func.value, block)
                return _keep_kind(text, getattr(str(text), func.attr)())
            if func.attr == "join" and len(node.args) == 1 and not node.keywords:
                return self._join(func.value, node.args[0], block)
            if func.attr == "format":
                return self._format(self._text(func.value, block), node, block)
        if name in DEDENTS and len(node.args) == 1 and not node.keywords:
            text = self._text(node.args[0], block)
            if name.endswith("dedent"):
                return _keep_kind(text, textwrap.dedent(text))
            import inspect  # only here: it is slow to import

            return _keep_kind(text, inspect.cleandoc(text))
        if TEMPLATE_CALLS.search(name):
            source = node.args[0] if node.args else keyword_of(node, "template")
            if source is not None:
                return self._text(source, block)
        if name in DEFAULT_CALLS:
            default = keyword_of(node, "default")
            if default is not None:
                return self._eval(default, block)
        raise NotStatic("call")

    def _text(self, node: ast.expr, block: Block) -> str:
        text = self._eval(node, block)
        if not isinstance(text, str):
            raise NotStatic("not a string")
        return text

    def _join(self, sep_node: ast.expr, items_node: ast.expr, block: Block) -> str:
        sep = self._text(sep_node, block)
        items = self._eval(items_node, block)
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise NotStatic("join of non-strings")
        if any(isinstance(i, FormatText) for i in [sep, *items]):
            return FormatText(_as_format(sep).join(_as_format(i) for i in items))
        return sep.join(items)

    def _format(self, template: str, node: ast.Call, block: Block) -> str:
        """`"...{a}...".format(a=...)`: static arguments filled in, the rest slots."""
        keywords = {k.arg: k.value for k in node.keywords if k.arg is not None}
        spread = any(k.arg is None for k in node.keywords)
        pieces: list[str] = []
        dynamic = False
        auto = 0
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError:
            raise NotStatic("malformed format template") from None
        for literal, field_name, spec, conversion in parsed:
            pieces.append(_escape(literal))
            if field_name is None:
                continue
            if field_name == "":
                field_name = str(auto)
                auto += 1
            base = re.split(r"[.\[]", field_name, maxsplit=1)[0]
            argument = _format_argument(base, node.args, keywords)
            text = None
            if argument is not None and base == field_name and not conversion:
                try:
                    text = self._format_value(argument, spec or "", block)
                except NotStatic:
                    text = None
            if text is None:
                if base.isidentifier():
                    slot = base
                elif argument is not None:
                    slot = slot_name(argument)
                else:
                    slot = f"arg{base}"
                if argument is None and not spread and not base.isidentifier():
                    raise NotStatic("positional field without an argument")
                pieces.append("{" + slot + "}")
                dynamic = True
            else:
                pieces.append(_as_format(text))
                dynamic = dynamic or isinstance(text, FormatText)
        return _finish("".join(pieces), dynamic)

    def _format_value(self, node: ast.expr, spec: str, block: Block) -> str:
        value = self._eval(node, block)
        if isinstance(value, (list, dict)) or value is None:
            raise NotStatic("a container in a format field")
        return _formatted(value, spec)


def _format_argument(
    base: str, args: list[ast.expr], keywords: dict[str, ast.expr]
) -> ast.expr | None:
    if base.isdigit():
        index = int(base)
        if index < len(args) and not isinstance(args[index], ast.Starred):
            return args[index]
        return None
    return keywords.get(base)


def _finish(text: str, dynamic: bool) -> str:
    """Format text with slots stays FormatText; without, it is plain text."""
    if dynamic:
        return FormatText(text)
    return text.replace("{{", "{").replace("}}", "}")


def _keep_kind(original: str, result: str) -> str:
    return FormatText(result) if isinstance(original, FormatText) else result


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, str) and isinstance(right, str):
        if isinstance(left, FormatText) or isinstance(right, FormatText):
            return FormatText(_as_format(left) + _as_format(right))
        return left + right
    if isinstance(left, list) and isinstance(right, list):
        return left + right
    raise NotStatic("+ of mixed values")


def keyword_of(node: ast.Call, name: str) -> ast.expr | None:
    for keyword in node.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _formatted(value: Any, spec: str) -> str:
    """A field's value formatted by spec; a template with no spec stays one."""
    if isinstance(value, FormatText) and not spec:
        return value
    try:
        return format(value, spec)
    except (ValueError, TypeError):
        raise NotStatic("format spec") from None


def dotted_name(node: ast.expr) -> str:
    """`client.messages.create` for that attribute chain; '' past a call."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted_name(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return ""


def _method_owner(block: Block, name: str) -> Block | None:
    """The class whose method block is, when name is its self or cls parameter."""
    if block.kind != "function" or block.parent is None:
        return None
    if block.parent.kind != "class":
        return None
    node = block.node
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    params = node.args.posonlyargs + node.args.args
    if params and params[0].arg == name:
        return block.parent
    return None


def _class_member(cls: Block, name: str) -> Binding | Block:
    if name in cls.bindings:
        return cls.bindings[name]
    if name in cls.attributes:
        return cls.attributes[name]
    if name in cls.children:
        return cls.children[name]
    raise NotStatic(f"{cls.qualname} has no static {name}")


def read_value(source: str, path: str, dotted: str) -> tuple[Any, int]:
    """The static value a name stands for in Python source, and its line."""
    from promptbudget import pyrefs  # pyrefs builds on this module

    return pyrefs.read_value(source, path, dotted)
