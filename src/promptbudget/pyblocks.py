"""The blocks of a Python module as `ast` sees them: never imported, never run.

A block is a module, class or function body: the names it binds at its top
level, the names local to it, the blocks nested in it and the calls made
directly in it. Other modules of the same repository are found and parsed on
demand, so a name imported from one can be followed there.
"""

from __future__ import annotations

import ast
import copy
import posixpath
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from promptbudget.errors import ConfigError, PromptBudgetError
from promptbudget.notebooks import code_of, is_notebook
from promptbudget.tree import Tree, text_of

# Deeply nested expressions make the parser recurse; a cap on the source size
# keeps a hostile file from exhausting memory as well.
MAX_SOURCE_CHARS = 8 * 1024 * 1024
DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(eq=False)
class Binding:
    """An assignment at a block's top level: its value node, line and block.

    qualname is how a reference names it after '::' (`NAME`, `Class.NAME`,
    `function.name`); block is where its value is evaluated.
    """

    name: str
    node: ast.expr
    line: int
    block: Block
    qualname: str


@dataclass(frozen=True)
class Import:
    """`from module import name` (level counts the leading dots) or `import module`."""

    module: str
    level: int
    name: str | None


@dataclass(eq=False)
class Block:
    kind: str  # module, class, function
    qualname: str  # "" for the module
    node: ast.AST
    parent: Block | None
    module: Module
    statements: list[ast.stmt]
    bindings: dict[str, Binding] = field(default_factory=dict)
    attributes: dict[str, Binding] = field(default_factory=dict)  # self.X in methods
    locals: frozenset[str] = frozenset()
    imports: dict[str, Import] = field(default_factory=dict)
    children: dict[str, Block] = field(default_factory=dict)
    nested: list[Block] = field(default_factory=list)
    _calls: list[ast.Call] = field(default_factory=list)

    def qualify(self, name: str) -> str:
        return f"{self.qualname}.{name}" if self.qualname else name

    def calls(self) -> list[ast.Call]:
        """Calls made directly in this block, not in nested defs, in source order."""
        return self._calls or []

    def walk(self) -> Iterator[Block]:
        yield self
        for child in self.nested:
            yield from child.walk()

    def return_node(self) -> ast.expr | None:
        """The value of a function's last top-level `return`."""
        for stmt in reversed(self.statements):
            if isinstance(stmt, ast.Return):
                return stmt.value
        return None


@dataclass(eq=False)
class Module:
    path: str
    tree: ast.Module
    top: Block = field(init=False)
    _parents: dict[int, ast.AST] | None = None
    _by_type: dict[type, list[ast.AST]] | None = None
    lines: list[int] | None = None  # a notebook's file line per source line

    def file_line(self, line: int) -> int:
        """Where a line of the parsed source is in the file (differs in notebooks)."""
        if self.lines is None or not 1 <= line <= len(self.lines):
            return line
        return self.lines[line - 1]

    def parent_of(self, node: ast.AST) -> ast.AST | None:
        if self._parents is None:
            self._index()
        assert self._parents is not None
        return self._parents.get(id(node))

    def nodes(self, *kinds: type) -> list[ast.AST]:
        """Every node of these types, in one pass over the module shared by all."""
        if self._by_type is None:
            self._index()
        assert self._by_type is not None
        if len(kinds) == 1:
            return self._by_type.get(kinds[0], [])
        return [n for kind in kinds for n in self._by_type.get(kind, [])]

    def _index(self) -> None:
        parents: dict[int, ast.AST] = {}
        by_type: dict[type, list[ast.AST]] = {}
        stack: list[ast.AST] = [self.tree]
        while stack:
            node = stack.pop()
            by_type.setdefault(type(node), []).append(node)
            for child in ast.iter_child_nodes(node):
                parents[id(child)] = node
                stack.append(child)
        self._parents, self._by_type = parents, by_type


def parse_module(source: str, path: str, lines: list[int] | None = None) -> ast.Module:
    """Parse source, turning every parser failure into a one-line ConfigError."""
    if len(source) > MAX_SOURCE_CHARS:
        raise ConfigError(f"{path}: Python source too large to read statically")
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as exc:
        line = exc.lineno or 1
        if lines is not None and 1 <= line <= len(lines):
            line = lines[line - 1]
        raise ConfigError(
            f"{path}:{line}: Python syntax error ({exc.msg}); fix the file so it parses"
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise ConfigError(
            f"{path}: Python source nests too deeply or is malformed; "
            "promptbudget cannot read it statically"
        ) from None


def build_module(source: str, path: str) -> Module:
    """Parse a module (or a notebook's code cells) and index its blocks."""
    lines = None
    if is_notebook(path):
        source, lines = code_of(source, path)
    tree = parse_module(source, path, lines)
    module = Module(path, tree)
    module.lines = lines
    try:
        module.top = _block("module", "", tree, tree.body, None, module)
    except RecursionError:
        raise ConfigError(
            f"{path}: Python source nests too deeply; "
            "promptbudget cannot read it statically"
        ) from None
    return module


def own_nodes(statements: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of these statements, without entering nested defs and classes.

    Lambdas and comprehensions are entered: what they call is called here.
    """
    stack: list[ast.AST] = list(reversed(statements))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, DEFS):
            stack.extend(_scope_header(node))
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _scope_header(node: ast.AST) -> list[ast.AST]:
    """The parts of a nested scope evaluated in the enclosing one."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = node.args
        return [*node.decorator_list, *args.defaults, *filter(None, args.kw_defaults)]
    assert isinstance(node, ast.ClassDef)
    return [*node.decorator_list, *node.bases, *node.keywords]


def _block(
    kind: str,
    qualname: str,
    node: ast.AST,
    statements: list[ast.stmt],
    parent: Block | None,
    module: Module,
) -> Block:
    block = Block(kind, qualname, node, parent, module, statements)
    block.bindings = _bindings(block)
    stored: set[str] = set()
    declared_outer: set[str] = set()
    calls: list[ast.Call] = []
    for sub in own_nodes(statements):
        if isinstance(sub, ast.Call):
            calls.append(sub)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            stored.add(sub.id)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            _add_imports(block.imports, sub)
            stored.update((a.asname or a.name).split(".")[0] for a in sub.names)
        elif isinstance(sub, (ast.Global, ast.Nonlocal)):
            declared_outer.update(sub.names)
        elif isinstance(sub, DEFS):
            stored.add(sub.name)
            child_kind = "class" if isinstance(sub, ast.ClassDef) else "function"
            child = _block(
                child_kind, block.qualify(sub.name), sub, sub.body, block, module
            )
            block.children[sub.name] = child
            block.nested.append(child)
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    block._calls = calls
    if kind == "function":
        assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        block.locals = frozenset(_parameters(node) | stored - declared_outer)
    if kind == "class":
        block.attributes = _self_attributes(block)
    return block


def _bindings(block: Block) -> dict[str, Binding]:
    """The value of each plain name after the block's top-level statements.

    `x += y` and `x = x + y` are folded into the earlier value, so a prompt
    built up in steps reads as the whole.
    """
    found: dict[str, Binding] = {}
    for stmt in block.statements:
        target, value = _assignment(stmt)
        if target is None or value is None:
            continue
        earlier = found.get(target)
        line = stmt.lineno
        if isinstance(stmt, ast.AugAssign):
            if earlier is None or not isinstance(stmt.op, ast.Add):
                found.pop(target, None)
                continue
            if _mentions(value, target):  # `C += C`: the earlier C on both sides
                value = _ReplaceName(target, earlier.node).visit(copy.deepcopy(value))
            value = ast.BinOp(left=earlier.node, op=ast.Add(), right=value)
            ast.copy_location(value, earlier.node)
            line = earlier.line
        elif earlier is not None and _mentions(value, target):
            value = _ReplaceName(target, earlier.node).visit(copy.deepcopy(value))
            line = earlier.line
        found[target] = Binding(target, value, line, block, block.qualify(target))
    return found


def _assignment(stmt: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(stmt, ast.Assign):
        names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
        return (names[-1], stmt.value) if names else (None, None)
    if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        if isinstance(stmt.target, ast.Name) and stmt.value is not None:
            return stmt.target.id, stmt.value
    return None, None


def _mentions(node: ast.expr, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


class _ReplaceName(ast.NodeTransformer):
    def __init__(self, name: str, replacement: ast.expr) -> None:
        self.name = name
        self.replacement = replacement

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self.replacement if node.id == self.name else node


def _add_imports(found: dict[str, Import], node: ast.Import | ast.ImportFrom) -> None:
    """Record what an import statement binds (anywhere in the block, even in try)."""
    if isinstance(node, ast.ImportFrom):
        for alias in node.names:
            if alias.name != "*":
                found[alias.asname or alias.name] = Import(
                    node.module or "", node.level, alias.name
                )
        return
    for alias in node.names:
        if alias.asname:
            found[alias.asname] = Import(alias.name, 0, None)
        else:
            head = alias.name.split(".")[0]
            found[head] = Import(head, 0, None)


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """A function's parameter names: they hide outer names of the same spelling."""
    args = node.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    return names


def _self_attributes(cls: Block) -> dict[str, Binding]:
    """`self.X = value` at the top of the class's methods, __init__ first."""
    found: dict[str, Binding] = {}
    methods = sorted(
        (b for b in cls.nested if b.kind == "function"),
        key=lambda b: b.qualname.rsplit(".", 1)[-1] != "__init__",
    )
    for method in methods:
        assert isinstance(method.node, (ast.FunctionDef, ast.AsyncFunctionDef))
        params = method.node.args.posonlyargs + method.node.args.args
        if not params:
            continue
        me = params[0].arg
        for stmt in method.statements:
            if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                continue
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == me
                    and stmt.value is not None
                    and target.attr not in found
                ):
                    found[target.attr] = Binding(
                        target.attr,
                        stmt.value,
                        stmt.lineno,
                        method,
                        cls.qualify(target.attr),
                    )
    return found


class Modules:
    """Python modules of one tree, parsed once each, found by import name."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self._parsed: dict[str, Module | ConfigError] = {}

    def load(self, path: str) -> Module:
        """The parsed module at path; ConfigError when it cannot be read."""
        if path not in self._parsed:
            try:
                self._parsed[path] = build_module(text_of(self.tree, path), path)
            except ConfigError as exc:
                self._parsed[path] = exc
        found = self._parsed[path]
        if isinstance(found, ConfigError):
            raise found
        return found

    def adopt(self, path: str, text: str) -> Module:
        """Parse text already read from path, unless path was parsed before."""
        if path not in self._parsed:
            try:
                self._parsed[path] = build_module(text, path)
            except ConfigError as exc:
                self._parsed[path] = exc
        return self.load(path)

    def get(self, path: str) -> Module | None:
        try:
            return self.load(path)
        except ConfigError:
            return None

    def find(self, importer: str, module: str, level: int) -> Module | None:
        """The module an import in importer names, if it is in the repository."""
        for candidate in self._candidates(importer, module, level):
            if self._is_file(candidate):
                return self.get(candidate)
        return None

    def _candidates(self, importer: str, module: str, level: int) -> Iterator[str]:
        parts = [p for p in module.split(".") if p]
        folder = posixpath.dirname(importer)
        if level > 0:
            for _ in range(level - 1):
                folder = posixpath.dirname(folder)
            bases = [folder]
        else:
            bases = []
            while True:
                bases.append(folder)
                if not folder:
                    break
                folder = posixpath.dirname(folder)
        for base in bases:
            stem = posixpath.join(base, *parts) if parts else base
            if parts:
                yield stem + ".py"
            yield posixpath.join(stem, "__init__.py") if stem else "__init__.py"

    def _is_file(self, path: str) -> bool:
        try:
            return self.tree.is_file(path)
        except PromptBudgetError:
            return False


_SHARED: weakref.WeakKeyDictionary[Any, Modules] = weakref.WeakKeyDictionary()


def modules_for(tree: Tree) -> Modules:
    """One Modules per tree, so each file is parsed once per run."""
    found = _SHARED.get(tree)
    if found is None:
        found = _SHARED[tree] = Modules(tree)
    return found
