"""Messages API call sites: what each one sends, as far as ast can tell.

A call site is `<anything>.messages.create(...)`, `.stream`, `.count_tokens`
or `.parse`, also under `.beta`. Its `system=`, `tools=` and `messages=` are
resolved to artifacts where the value is static, and to slots where it is
only known at run time; `model=` and `max_tokens=` are kept when static.
`**params` is opened when params is a dict literal.
"""

from __future__ import annotations

import ast
from typing import Any, Protocol

from promptbudget.artifacts import Artifact, CallSite, Input
from promptbudget.pyast import (
    SCAN_MAX_TEXT,
    Evaluator,
    NotStatic,
    keyword_of,
    slot_name,
)
from promptbudget.pyblocks import Block
from promptbudget.pyplaces import Places, dict_value

CALL_METHODS = ("create", "stream", "count_tokens", "parse")
# `client.messages.with_raw_response.create(...)` sends the same request.
RAW_RESPONSES = ("with_raw_response", "with_streaming_response")
CALL_KEYWORDS = {"model", "messages", "system", "tools", "max_tokens"}
MESSAGE_ROLES = ("user", "assistant")


class Inputs(Protocol):
    """What the module scanner offers for turning expressions into inputs."""

    places: Places

    def add(self, artifact: Artifact) -> Artifact: ...

    def text_input(self, node: ast.expr, kind: str, strength: int) -> Input: ...

    def contents(self, node: ast.expr, kind: str, strength: int) -> list[Input]: ...

    def tools_input(self, node: ast.expr, strength: int) -> Input | None: ...

    def returned_tools(self, method: Block) -> Input | None: ...


def messages_method(call: ast.Call) -> str | None:
    """`messages.create`, `beta.messages.stream`...: a Messages API call, or None."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in CALL_METHODS:
        return None
    owner = func.value
    while isinstance(owner, ast.Attribute) and owner.attr in RAW_RESPONSES:
        owner = owner.value
    if not isinstance(owner, ast.Attribute) or owner.attr != "messages":
        return None
    chain = []
    node: ast.expr = owner.value
    while isinstance(node, ast.Attribute):
        chain.append(node.attr)
        node = node.value
    if "threads" in chain:  # OpenAI's Assistants API has messages.create too
        return None
    names = {k.arg for k in call.keywords}
    if not names & CALL_KEYWORDS and None not in names:
        return None
    beta = "beta." if chain[:1] == ["beta"] else ""
    return f"{beta}messages.{func.attr}"


def read_calls(scanner: Inputs) -> None:
    """Add a call artifact for every Messages API call in the module."""
    module = scanner.places.module
    for block in module.top.walk():
        for call in block.calls():
            method = messages_method(call)
            if method is not None:
                site = _site(scanner, call, method, block)
                line = module.file_line(call.lineno)
                scanner.add(Artifact("call", module.path, None, line, call=site))


def _site(scanner: Inputs, call: ast.Call, method: str, block: Block) -> CallSite:
    site = CallSite(block.qualname if block.kind != "module" else "", method)
    for name, value in _keywords(scanner.places, call, block):
        if name is None:
            site.unread.append(f"**{slot_name(value)}")
        elif name == "model":
            site.model = _static(scanner.places, value, block, str)
        elif name == "max_tokens":
            site.max_tokens = _static(scanner.places, value, block, int)
        elif name == "system":
            site.system = _system(scanner, value, block)
        elif name == "tools":
            site.tools = _tools(scanner, value, block, site)
        elif name == "messages":
            site.messages = _messages(scanner, value, block)
    return site


def _keywords(
    places: Places, call: ast.Call, block: Block
) -> list[tuple[str | None, ast.expr]]:
    """A call's keywords, with `**params` opened when params is a dict literal."""
    found: list[tuple[str | None, ast.expr]] = []
    for keyword in call.keywords:
        value = keyword.value
        binding = None
        if keyword.arg is None and isinstance(value, ast.Name):
            binding = places.binding_of(value, block)
        if binding is None or not isinstance(binding.node, ast.Dict):
            found.append((keyword.arg, value))
            continue
        for key, item in zip(binding.node.keys, binding.node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                found.append((key.value, item))
            else:
                found.append((None, value))
    return found


def _static(places: Places, node: ast.expr, block: Block, kind: type) -> Any:
    try:
        value = Evaluator(places.modules, SCAN_MAX_TEXT).value(node, block)
    except NotStatic:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        return None
    return value


def _system(scanner: Inputs, node: ast.expr, block: Block) -> list[Input]:
    """One input per system text: a string, or each text of a list of blocks."""
    target = scanner.places.list_node(node, block)
    if target is None:
        return [scanner.text_input(node, "system", 2)]
    inputs = []
    for element in target.elts:
        text = _block_text(scanner.places, element, block)
        inputs.append(scanner.text_input(text or element, "system", 2))
    return inputs


def _block_text(places: Places, element: ast.expr, block: Block) -> ast.expr | None:
    """The text of a content block: `{"type": "text", "text": ...}`, or the same
    built with a TypedDict such as `TextBlockParam(type="text", text=...)`,
    directly or through a local name."""
    if isinstance(element, ast.Name):
        binding = places.binding_of(element, block)
        if binding is not None and binding.block is block:
            element = binding.node
    if isinstance(element, ast.Dict):
        return dict_value(element, "text")
    if isinstance(element, ast.Call):
        return keyword_of(element, "text")
    return None


def _tools(
    scanner: Inputs, node: ast.expr, block: Block, site: CallSite
) -> list[Input]:
    whole = scanner.tools_input(node, 2)
    if whole is not None:
        return [whole]
    if isinstance(node, ast.ListComp):
        made = _tools_of_objects(scanner, node, block)
        if made is not None:
            return made
    target = scanner.places.list_node(node, block)
    if target is None:
        site.unread.append("tools")
        return []
    inputs = []
    for element in target.elts:
        found = scanner.tools_input(element, 2)
        if found is None:
            site.unread.append("tools")
        else:
            inputs.append(found)
    return inputs


def _tools_of_objects(
    scanner: Inputs, node: ast.ListComp, block: Block
) -> list[Input] | None:
    """`[tool.to_params() for tool in [BashTool(), EditTool()]]`: each class's method.

    Tools defined as classes hand the API what a method returns; when the
    objects are constructed in a list literal, each class is known.
    """
    element = node.elt
    loop = node.generators[0]
    if not (
        isinstance(element, ast.Call)
        and isinstance(element.func, ast.Attribute)
        and isinstance(element.func.value, ast.Name)
        and isinstance(loop.target, ast.Name)
        and element.func.value.id == loop.target.id
    ):
        return None
    objects = scanner.places.list_node(loop.iter, block)
    if objects is None:
        return None
    inputs = []
    for made in objects.elts:
        method = scanner.places.method_of(made, element.func.attr, block)
        found = scanner.returned_tools(method) if method is not None else None
        if found is None:
            return None
        inputs.append(found)
    return inputs


def _messages(scanner: Inputs, node: ast.expr, block: Block) -> list[Input]:
    """Inputs per message: its content's artifact, or a slot for what is dynamic."""
    places = scanner.places
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        # history + [{"role": "user", "content": question}]: each side's own
        return _messages(scanner, node.left, block) + _messages(
            scanner, node.right, block
        )
    target = places.list_node(node, block)
    if target is None:
        return [Input(slot=slot_name(node), hints=places.hints(node, block))]
    inputs = []
    for element in target.elts:
        if isinstance(element, ast.Starred):
            inputs.append(Input(slot=slot_name(element.value)))
            continue
        message = element
        if isinstance(element, ast.Name):
            binding = places.binding_of(element, block)
            if binding is not None and isinstance(binding.node, ast.Dict):
                message = binding.node
        content = (
            dict_value(message, "content") if isinstance(message, ast.Dict) else None
        )
        if content is None:
            inputs.append(Input(slot=slot_name(element)))
            continue
        role = _role(message)
        for found in scanner.contents(content, "template", 2):
            found.role = role
            inputs.append(found)
    return inputs


def _role(message: ast.expr) -> str:
    role = dict_value(message, "role") if isinstance(message, ast.Dict) else None
    if isinstance(role, ast.Constant) and role.value in MESSAGE_ROLES:
        return str(role.value)
    return "user"
