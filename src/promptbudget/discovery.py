"""Discovery: every artifact and call of a tree, and which features cover them.

Files come from git (tracked, and untracked but not ignored), narrowed by
budgets.yaml's `discover.paths` and `discover.exclude`. A file that cannot be
read (syntax error, not UTF-8, binary, huge, nested too deeply) is skipped
with a one-line warning naming it. Nothing is imported or run.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from promptbudget import filescan, pyrefs, pyscan
from promptbudget.artifacts import Artifact, CallSite, is_prose, template_error
from promptbudget.config import DiscoverSettings
from promptbudget.errors import PromptBudgetError
from promptbudget.notebooks import is_notebook
from promptbudget.pyast import NotStatic
from promptbudget.pyblocks import Module, Modules, modules_for
from promptbudget.refs import GLOB_CHARS, PYTHON_SUFFIXES
from promptbudget.request import Assembly
from promptbudget.tree import Tree, decode_text, glob_match

log = logging.getLogger(__name__)

# Prompts are small; a file over this size is generated data, not a prompt.
MAX_SCAN_BYTES = 2 * 1024 * 1024
# Notebooks carry their outputs (images, tables); only the code is read.
MAX_NOTEBOOK_BYTES = 16 * 1024 * 1024
# Top-level packages of LLM client libraries and prompt frameworks.
LLM_LIBRARIES = {
    "anthropic",
    "openai",
    "langchain",
    "langchain_core",
    "langchain_openai",
    "langchain_anthropic",
    "langchain_community",
    "langgraph",
    "llama_index",
    "litellm",
    "agents",
    "pydantic_ai",
    "crewai",
    "autogen",
    "autogen_agentchat",
    "google",
    "vertexai",
    "mistralai",
    "cohere",
    "groq",
    "instructor",
    "dspy",
    "haystack",
    "semantic_kernel",
    "ollama",
    "smolagents",
    "claude_agent_sdk",
    "boto3",
}
# Words without which a Python file can hold no artifact: prompt-like names,
# tool schemas, role messages, Messages API calls, LLM libraries. A file
# without any of them is not parsed (unless an LLM module imports it).
PYTHON_MARKERS = (
    "prompt",
    "system",
    "instruction",
    "template",
    "persona",
    "preamble",
    "backstory",
    "guideline",
    "input_schema",
    "parameters",
    "function",
    "tool",
    "role",
    ".messages.",
    *sorted(LLM_LIBRARIES),
)


@dataclass
class Discovery:
    artifacts: list[Artifact]
    warnings: list[str] = field(default_factory=list)

    def uncovered(self) -> list[Artifact]:
        """Artifacts no feature covers (calls are judged by their inputs)."""
        return [a for a in self.artifacts if a.kind != "call" and not a.features]


def discover(
    tree: Tree,
    settings: DiscoverSettings,
    *,
    skip: Collection[str] = (),
    only: Collection[str] | None = None,
    warn: Callable[[str], None],
    templates: bool = False,
) -> Discovery:
    """Scan a tree's files (or only some of them) for artifacts and calls.

    With templates, every Jinja prompt file is parsed, and one that does not
    parse is named in a warning (what `discover` and `init` show); check
    leaves that to the features that send it, which refuse it.
    """
    listed = tree.list_files() if only is None else sorted(only)
    if only is None:
        for pattern in settings.paths:
            if not any(_under(f, pattern) for f in listed):
                warn(
                    f"discover.paths: '{pattern}' matches no file in the "
                    "repository; fix the path or remove it"
                )
    files = [f for f in listed if f not in skip and is_selected(f, settings)]
    modules = modules_for(tree)
    found: dict[str, Artifact] = {}
    mentions: set[str] = set()
    warnings: list[str] = []

    def skipped(message: str) -> None:
        warnings.append(message)
        warn(message)

    python = [f for f in files if f.endswith(PYTHON_SUFFIXES)]
    parsed = {p: m for p in python if (m := _parse(tree, modules, p, skipped))}
    llm = llm_modules(parsed, modules)
    wanted = set(python)
    for path in sorted(llm - parsed.keys()):
        module = modules.get(path) if path in wanted else None
        if module is not None:
            parsed[path] = module
    for path, module in parsed.items():
        scan = _scan_python(module, modules, path in llm, skipped)
        if scan is not None:
            mentions |= scan.mentions
            _merge(found, scan.artifacts)

    in_paths = bool(settings.paths)
    for path in files:
        if filescan.is_prompt_file(path, in_paths, mentions):
            _merge(
                found,
                _scan_file(tree, path, skipped, data=False, templates=templates),
            )
        elif path.lower().endswith(filescan.DATA_SUFFIXES):
            _merge(found, _scan_file(tree, path, skipped, data=True))

    _add_parts(found, modules)
    _drop_aliases(found)
    artifacts = sorted(found.values(), key=lambda a: (a.path, a.line, a.reference))
    _resolve_hints(artifacts)
    return Discovery(artifacts, warnings)


def is_selected(path: str, settings: DiscoverSettings) -> bool:
    if settings.paths and not any(_under(path, p) for p in settings.paths):
        return False
    return not any(_under(path, p) for p in settings.exclude)


def _under(path: str, pattern: str) -> bool:
    if not pattern:
        return True
    if path == pattern or path.startswith(pattern + "/"):
        return True
    if any(c in pattern for c in GLOB_CHARS):
        return glob_match(path, pattern) or glob_match(path, pattern + "/**")
    return False


def _read(tree: Tree, path: str, skipped: Callable[[str], None]) -> str | None:
    """A file's text for scanning, or None (with a warning) when unreadable."""
    try:
        data = tree.read_bytes(path)
    except PromptBudgetError as exc:
        if "no such file" not in str(exc):  # listed by git but deleted since
            skipped(_skip_message(str(exc)))
        return None
    limit = MAX_NOTEBOOK_BYTES if is_notebook(path) else MAX_SCAN_BYTES
    if len(data) > limit:
        skipped(
            f"{path}: {len(data):,} bytes, over the {limit // 2**20} MB "
            "discovery reads; skipped"
        )
        return None
    try:
        return decode_text(data, path)
    except PromptBudgetError as exc:
        skipped(_skip_message(str(exc)))
        return None


def _skip_message(message: str) -> str:
    """An error message with its fix replaced by 'skipped'."""
    head = message.rsplit("; ", 1)[0] if "; " in message else message
    return f"{head}; skipped"


def _parse(
    tree: Tree, modules: Modules, path: str, skipped: Callable[[str], None]
) -> Module | None:
    """A Python file parsed, or None when it is unreadable or names no LLM words."""
    text = _read(tree, path, skipped)
    if text is None:
        return None
    lowered = text.lower()
    if not any(marker in lowered for marker in PYTHON_MARKERS):
        return None
    try:
        return modules.adopt(path, text)
    except PromptBudgetError as exc:
        skipped(_skip_message(str(exc)))
    except RecursionError:
        skipped(f"{path}: nests too deeply to read statically; skipped")
    return None


def llm_modules(parsed: Mapping[str, Module], modules: Modules) -> set[str]:
    """Modules that import an LLM library, and the repository modules they import."""
    direct = {
        path
        for path, module in parsed.items()
        if any(
            imp.module.split(".")[0] in LLM_LIBRARIES and imp.level == 0
            for block in module.top.walk()
            for imp in block.imports.values()
        )
    }
    found = set(direct)
    for path in direct:
        for block in parsed[path].top.walk():
            for imp in block.imports.values():
                target = modules.find(path, imp.module, imp.level)
                if target is not None:
                    found.add(target.path)
    return found


def _scan_python(
    module: Module, modules: Modules, llm: bool, skipped: Callable[[str], None]
) -> pyscan.ModuleScan | None:
    path = module.path
    try:
        return pyscan.scan_module(module, modules, llm=llm)
    except RecursionError:
        skipped(f"{path}: nests too deeply to read statically; skipped")
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop discovery
        log.debug("scanning %s failed", path, exc_info=True)
        skipped(f"{path}: could not be read statically ({type(exc).__name__}); skipped")
    return None


def _scan_file(
    tree: Tree,
    path: str,
    skipped: Callable[[str], None],
    *,
    data: bool,
    templates: bool = False,
) -> list[Artifact]:
    text = _read(tree, path, skipped)
    if text is None:
        return []
    try:
        if not data:
            found = filescan.scan_prompt_file(path, text)
            for artifact in found if templates else ():
                problem = template_error(artifact.value, path, artifact.line)
                if problem is not None:
                    head = problem.rsplit("; ", 1)[0]
                    skipped(f"{head}; listed, but check refuses it until it is fixed")
            return found
        if not filescan.may_hold_data_artifacts(text):
            return []
        return filescan.scan_data_file(path, text)
    except PromptBudgetError as exc:
        skipped(_skip_message(str(exc)))
    except RecursionError:
        skipped(f"{path}: nests too deeply to read; skipped")
    return []


def _merge(found: dict[str, Artifact], artifacts: Iterable[Artifact]) -> None:
    """Keep one artifact per reference; what a call site says it is wins."""
    for artifact in artifacts:
        key = artifact.reference
        if artifact.kind == "call":
            key = f"{key}@{artifact.line}"
        known = found.get(key)
        if known is None:
            found[key] = artifact
        elif artifact.strength > known.strength:
            known.kind = artifact.kind
            known.strength = artifact.strength


def _add_parts(found: dict[str, Artifact], modules: Modules) -> None:
    """The named texts a prompt is built from are artifacts too.

    `SYSTEM = PERSONA + RULES`: a paragraph added to RULES grows SYSTEM, and
    a reader looking for prompts would point at RULES as well.
    """
    for artifact in list(found.values()):
        if artifact.kind not in ("system", "template"):
            continue
        for key in sorted(artifact.touched):
            if key in found:
                continue
            path, _, name = key.partition("::")
            module = modules.get(path)
            if module is None:
                continue
            try:
                part = pyrefs.resolve_name(module, name, modules)
            except (LookupError, NotStatic, RecursionError):
                continue
            if is_prose(part.value):
                touched = frozenset(part.touched - {key})
                found[key] = Artifact(
                    artifact.kind,
                    path,
                    name,
                    part.line,
                    part.value,
                    touched,
                    strength=0,
                )


def _drop_aliases(found: dict[str, Artifact]) -> None:
    """One text under two names is one artifact: keep the original.

    `SYSTEM = BASE_SYSTEM` names BASE_SYSTEM's text again; in
    `rewrite = PromptTemplate.from_template("...")` both `rewrite` and
    `rewrite.0` name the same text, and the assignment is kept.
    """
    aliases: dict[str, str] = {}
    for key, artifact in list(found.items()):
        if artifact.kind == "call":
            continue
        original = _original(found, artifact)
        if original is None or original is artifact:
            continue
        aliases[artifact.reference] = original.reference
        if artifact.strength > original.strength:
            original.kind, original.strength = artifact.kind, artifact.strength
        del found[key]
    for artifact in found.values():
        if artifact.call is None:
            continue
        for item in artifact.call.inputs():
            while item.reference in aliases:
                item.reference = aliases[item.reference]


def _original(found: dict[str, Artifact], artifact: Artifact) -> Artifact | None:
    if artifact.kind != "tools" and len(artifact.touched) == 1:
        (source,) = artifact.touched
        original = found.get(source)
        if original is not None and original.value == artifact.value:
            return original
    name = artifact.name or ""
    while "." in name:
        name = name.rsplit(".", 1)[0]
        outer = found.get(f"{artifact.path}::{name}")
        if outer is not None and outer.value == artifact.value:
            return outer
    return None


def _resolve_hints(artifacts: list[Artifact]) -> None:
    """Point a call's run-time template (`get_template("answer.j2")`) at its file."""
    files = [a for a in artifacts if a.name is None and a.kind != "call"]
    for artifact in artifacts:
        if artifact.call is None:
            continue
        for inputs in (artifact.call.system, artifact.call.messages):
            for item in inputs:
                if item.reference is not None or not item.hints:
                    continue
                match = _nearest_file(artifact.path, item.hints, files)
                if match is not None:
                    item.reference = match.reference
                    item.slot = None
                    is_system = inputs is artifact.call.system
                    match.kind = "system" if is_system else "template"


def _nearest_file(
    caller: str, hints: tuple[str, ...], files: list[Artifact]
) -> Artifact | None:
    candidates = [
        f
        for f in files
        for hint in hints
        if f.path == hint or f.path.endswith("/" + hint.lstrip("./"))
    ]
    if not candidates:
        return None
    here = posixpath.dirname(caller)
    return max(
        candidates,
        key=lambda f: (
            len(posixpath.commonpath([here, posixpath.dirname(f.path)]))
            if here and posixpath.dirname(f.path)
            else 0
        ),
    )


def cover(discovery: Discovery, assemblies: Mapping[str, Assembly]) -> None:
    """Set each artifact's features: those whose request reads it.

    A feature covers what its references name and every Python value they
    were built from; a reference to a whole file covers everything found in
    it. A call is covered by the features that cover every input it sends
    and, when its model is a literal, count on that model: a new call that
    reuses a budgeted prompt on another model is a feature no budget covers.
    """
    by_path: dict[str, list[tuple[str | None, str]]] = {}
    for feature, assembly in assemblies.items():
        for part in assembly.parts:
            for key in part.covers:
                path, _, name = key.partition("::")
                by_path.setdefault(path, []).append((name or None, feature))
    features_of: dict[str, tuple[str, ...]] = {}
    for artifact in discovery.artifacts:
        if artifact.kind == "call":
            continue
        names = {
            feature
            for name, feature in by_path.get(artifact.path, [])
            if _covers(name, artifact.name)
        }
        artifact.features = tuple(sorted(names))
        features_of[artifact.reference] = artifact.features
    for artifact in discovery.artifacts:
        if artifact.call is not None:
            artifact.features = _features_of_call(
                artifact.call, features_of, assemblies
            )


def _features_of_call(
    call: CallSite,
    features_of: Mapping[str, tuple[str, ...]],
    assemblies: Mapping[str, Assembly],
) -> tuple[str, ...]:
    found = [
        set(features_of[i.reference])
        for i in call.inputs()
        if i.reference and i.reference in features_of
    ]
    if not found:
        return ()
    names = set.intersection(*found)
    if call.model is not None:
        names = {n for n in names if call.model in assemblies[n].models}
    return tuple(sorted(names))


def _covers(cover_name: str | None, name: str | None) -> bool:
    if cover_name is None or cover_name == name:
        return True
    if name is None:
        return False
    return name.startswith(cover_name + ".") or cover_name.startswith(name + ".")
