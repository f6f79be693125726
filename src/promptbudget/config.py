"""budgets.yaml: load it, check it, and describe each feature.

Every problem is reported as one line naming the file, line and column, with
the nearest valid key suggested for a misspelling.
"""

from __future__ import annotations

import math
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from promptbudget.errors import ConfigError
from promptbudget.pricing import PRICE_FIELDS, Price
from promptbudget.tree import Tree, join_inside, text_of
from promptbudget.yamlload import Marks, load_yaml

CONFIG_NAME = "budgets.yaml"
MAX_CONFIG_BYTES = 1024 * 1024
DEFAULT_WARN_AT = 0.9
DEFAULT_MARGIN = 0.05

TOP_KEYS = (
    "version",
    "models",
    "features",
    "discover",
    "lockfile",
    "prices",
    "routes",
    "margin",
)
FEATURE_KEYS = (
    "description",
    "models",
    "system",
    "tools",
    "messages",
    "slots",
    "max_tokens",
    "budget",
)
BUDGET_KEYS = ("max_input_tokens", "warn_at", "max_increase", "max_cost_per_call")
MESSAGE_KEYS = ("role", "text", "template")
SLOT_KEYS = ("tokens", "top_k", "chunk_tokens")
DISCOVER_KEYS = ("paths", "exclude", "unbudgeted")
UNBUDGETED = ("ignore", "warn", "error")
ROLES = ("user", "assistant")
FEATURE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Message:
    role: str
    text: str | None
    template: str | None
    origin: str


@dataclass(frozen=True)
class Slot:
    """A slot's worst-case allowance: tokens, or top_k × chunk_tokens."""

    name: str
    tokens: int | str | None
    top_k: int | str | None
    chunk_tokens: int | str | None
    origin: str


@dataclass(frozen=True)
class Increase:
    tokens: int | None = None
    percent: float | None = None


@dataclass(frozen=True)
class Budget:
    max_input_tokens: int | None = None
    warn_at: float = DEFAULT_WARN_AT
    max_increase: Increase | None = None
    max_cost_per_call: float | None = None


@dataclass(frozen=True)
class Feature:
    name: str
    models: tuple[str, ...]
    system: tuple[str, ...]
    tools: tuple[str, ...]
    messages: tuple[Message, ...]
    slots: dict[str, Slot]
    max_tokens: int | None
    budget: Budget
    origin: str


@dataclass(frozen=True)
class DiscoverSettings:
    """Where discovery looks (repository-relative), and what unbudgeted finds do."""

    paths: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    unbudgeted: str = "warn"


@dataclass
class Config:
    path: str  # repository-relative path of budgets.yaml
    base_dir: str  # repository-relative directory references are relative to
    models: tuple[str, ...]
    features: dict[str, Feature]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    lockfile: str | None = None  # repository-relative
    routes: str | None = None  # a reference to a routing table
    prices: dict[str, Price] = field(default_factory=dict)
    margin: float = DEFAULT_MARGIN  # how near a limit an estimate is uncertain
    discover: DiscoverSettings = field(default_factory=DiscoverSettings)


def load_config(tree: Tree, path: str) -> Config:
    """Read and check budgets.yaml from a tree (working tree or a commit)."""
    if not tree.is_file(path):
        raise ConfigError(f"{path}: no such file at {tree.label}")
    data = tree.read_bytes(path)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: is {len(data):,} bytes; budgets.yaml is limited to 1 MB"
        )
    return parse_config(text_of(tree, path), path)


def parse_config(text: str, path: str) -> Config:
    raw, marks = load_yaml(text, path)
    checker = _Checker(path, marks)
    if raw is None:
        raise ConfigError(
            f"{path}: is empty; start with 'version: 1' and a 'features:' mapping "
            "(or run promptbudget init)"
        )
    if not isinstance(raw, dict):
        raise checker.error((), "must be a mapping with 'version' and 'features'")
    checker.keys(raw, (), TOP_KEYS)
    version = raw.get("version")
    if isinstance(version, bool) or version != 1:
        if "version" not in raw:
            raise checker.error((), "has no 'version'; add 'version: 1' at the top")
        if isinstance(version, str) and version.strip() == "1":
            raise checker.error(
                ("version",), "must be the number 1; write version: 1 without quotes"
            )
        raise checker.error(
            ("version",),
            f"version {_yaml_word(version)} is not supported; this promptbudget "
            "reads version: 1",
        )
    models = checker.models(raw.get("models"), ("models",)) if "models" in raw else ()
    features_raw = raw.get("features")
    if not isinstance(features_raw, dict) or not features_raw:
        raise checker.error(
            ("features",) if "features" in raw else (),
            "needs a 'features' mapping with at least one feature",
        )
    features = {}
    routed = raw.get("routes") is not None
    for name, body in features_raw.items():
        if not isinstance(name, str) or not name.strip():
            raise checker.error(
                ("features", name),
                f"a feature is named {_yaml_word(name)}; name each feature with "
                "text such as answer_question",
            )
        if not name.isprintable():
            raise checker.error(
                ("features", name),
                f"the feature name {name!r} holds control characters; use plain text",
            )
        features[name] = checker.feature(name, body, models, routed)
    base_dir = posixpath.dirname(path)
    lockfile = None
    if raw.get("lockfile") is not None:
        value = raw["lockfile"]
        if not isinstance(value, str) or not value.strip():
            raise checker.error(
                ("lockfile",), "must be a path such as promptbudget.lock"
            )
        lockfile = join_inside(
            base_dir, value.strip(), origin=checker.at(("lockfile",))
        )
    routes = None
    if raw.get("routes") is not None:
        routes = checker.references(raw["routes"], ("routes",))[0]
    prices = checker.prices(raw.get("prices") or {}, ("prices",))
    margin = DEFAULT_MARGIN
    if raw.get("margin") is not None:
        margin = checker.percent(raw["margin"], ("margin",))
        if not 0 <= margin < 1:
            raise checker.error(("margin",), "must be a percentage below 100%")
    discover = checker.discover(raw.get("discover", {}), base_dir)
    return Config(
        path,
        base_dir,
        models,
        features,
        raw,
        lockfile,
        routes,
        prices,
        margin,
        discover,
    )


class _Checker:
    def __init__(self, path: str, marks: Marks) -> None:
        self.path = path
        self.marks = marks

    def at(self, key_path: tuple[Any, ...]) -> str:
        line, column = self.marks.get(key_path, (1, 1))
        return f"{self.path}:{line}:{column}"

    def error(self, key_path: tuple[Any, ...], message: str) -> ConfigError:
        return ConfigError(f"{self.at(key_path)}: {_dotted(key_path)}{message}")

    def keys(
        self, mapping: dict, key_path: tuple[Any, ...], allowed: tuple[str, ...]
    ) -> None:
        for key in mapping:
            if key not in allowed:
                hint = _nearest(str(key), allowed)
                where = ".".join(map(str, key_path)) or "the top level"
                raise ConfigError(
                    f"{self.at((*key_path, key))}: unknown key '{key}' in {where}; "
                    + (
                        f"did you mean '{hint}'?"
                        if hint
                        else f"valid keys: {', '.join(allowed)}"
                    )
                )

    def models(self, value: Any, key_path: tuple[Any, ...]) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.error(key_path, "must be a model name or a list of model names")
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise self.error(
                    (*key_path, i), "must be a model name such as claude-sonnet-4-6"
                )
            self.model_name(
                item.strip(), (*key_path, i) if len(items) > 1 else key_path
            )
        return tuple(item.strip() for item in items)

    def model_name(self, model: str, key_path: tuple[Any, ...]) -> None:
        """Refuse a name that is unknown but close to a known model: a typo."""
        from promptbudget import models

        if models.is_known(model):
            return
        hint = models.nearest_model(model)
        if hint is not None:
            raise self.error(
                key_path, f"unknown model '{model}'; did you mean '{hint}'?"
            )

    def references(self, value: Any, key_path: tuple[Any, ...]) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.error(key_path, "must be a reference or a list of references")
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise self.error(
                    (*key_path, i), "must be a reference such as prompts/system.md"
                )
        return tuple(items)

    def count(
        self, value: Any, key_path: tuple[Any, ...], *, zero: bool = False
    ) -> int:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < (0 if zero else 1)
        ):
            least = "0 or more" if zero else "a positive whole number"
            raise self.error(key_path, f"must be {least} of tokens, not {value!r}")
        return value

    def feature(
        self, name: str, body: Any, default_models: tuple[str, ...], routed: bool
    ) -> Feature:
        key_path: tuple[Any, ...] = ("features", name)
        if not FEATURE_NAME.match(name):
            raise self.error(key_path, "feature names use letters, digits, _ . and -")
        if not isinstance(body, dict):
            raise self.error(
                key_path, "must be a mapping (models, system, messages, budget...)"
            )
        self.keys(body, key_path, FEATURE_KEYS)
        if "models" in body:
            models = self.models(body["models"], (*key_path, "models"))
        elif default_models or routed:
            # Routes, read when the feature is assembled, may name its model.
            models = ()
        else:
            raise self.error(
                key_path,
                "has no models; add 'models: [claude-sonnet-4-6]' to it or at the top",
            )
        system = self.references(body.get("system", []), (*key_path, "system"))
        tools = self.references(body.get("tools", []), (*key_path, "tools"))
        messages = self.messages(body.get("messages", []), (*key_path, "messages"))
        slots = self.slots(body.get("slots", {}), (*key_path, "slots"))
        max_tokens = None
        if body.get("max_tokens") is not None:
            max_tokens = self.count(body["max_tokens"], (*key_path, "max_tokens"))
        budget = self.budget(body.get("budget", {}), (*key_path, "budget"))
        return Feature(
            name,
            models,
            system,
            tools,
            messages,
            slots,
            max_tokens,
            budget,
            self.at(key_path),
        )

    def messages(self, value: Any, key_path: tuple[Any, ...]) -> tuple[Message, ...]:
        if not isinstance(value, list):
            raise self.error(
                key_path, "must be a list of {role, text} or {role, template}"
            )
        result = []
        for i, item in enumerate(value):
            at = (*key_path, i)
            if not isinstance(item, dict):
                raise self.error(at, "must be a mapping {role: user, template: ...}")
            self.keys(item, at, MESSAGE_KEYS)
            role = item.get("role", "user")
            if role not in ROLES:
                raise self.error(
                    (*at, "role"), f"role must be user or assistant, not {role!r}"
                )
            has_text, has_template = "text" in item, "template" in item
            if has_text == has_template:
                raise self.error(at, "needs exactly one of 'text' or 'template'")
            if has_text and not isinstance(item["text"], str):
                raise self.error((*at, "text"), "must be a string")
            if has_template:
                self.references(item["template"], (*at, "template"))
            result.append(
                Message(role, item.get("text"), item.get("template"), self.at(at))
            )
        return tuple(result)

    def slots(self, value: Any, key_path: tuple[Any, ...]) -> dict[str, Slot]:
        if not isinstance(value, dict):
            raise self.error(
                key_path, "must map each slot name to its worst case in tokens"
            )
        result = {}
        for name, spec in value.items():
            at = (*key_path, name)
            if isinstance(spec, dict):
                self.keys(spec, at, SLOT_KEYS)
                slot = self.slot_parts(str(name), spec, at)
            else:
                slot = Slot(str(name), self.amount(spec, at), None, None, self.at(at))
            result[str(name)] = slot
        return result

    def slot_parts(self, name: str, spec: dict, at: tuple[Any, ...]) -> Slot:
        if "tokens" in spec:
            if len(spec) > 1:
                raise self.error(at, "give either tokens or top_k with chunk_tokens")
            return Slot(
                name,
                self.amount(spec["tokens"], (*at, "tokens")),
                None,
                None,
                self.at(at),
            )
        if "top_k" not in spec or "chunk_tokens" not in spec:
            raise self.error(at, "needs both top_k and chunk_tokens (or tokens)")
        top_k = self.amount(spec["top_k"], (*at, "top_k"))
        chunk = self.amount(spec["chunk_tokens"], (*at, "chunk_tokens"))
        return Slot(name, None, top_k, chunk, self.at(at))

    def amount(self, value: Any, key_path: tuple[Any, ...]) -> int | str:
        """A whole number of tokens, or a reference to an integer constant."""
        if isinstance(value, str) and "::" in value:
            return value
        return self.count(value, key_path, zero=True)

    def budget(self, value: Any, key_path: tuple[Any, ...]) -> Budget:
        if not isinstance(value, dict):
            raise self.error(
                key_path, "must be a mapping such as {max_input_tokens: 8000}"
            )
        self.keys(value, key_path, BUDGET_KEYS)
        max_input = None
        if value.get("max_input_tokens") is not None:
            max_input = self.count(
                value["max_input_tokens"], (*key_path, "max_input_tokens")
            )
        warn_at = DEFAULT_WARN_AT
        if "warn_at" in value:
            warn_at = self.percent(value["warn_at"], (*key_path, "warn_at"))
            if not 0 < warn_at <= 1:
                raise self.error((*key_path, "warn_at"), "must be between 1% and 100%")
        increase = None
        if value.get("max_increase") is not None:
            increase = self.increase(value["max_increase"], (*key_path, "max_increase"))
        max_cost = None
        if value.get("max_cost_per_call") is not None:
            max_cost = self.dollars(
                value["max_cost_per_call"], (*key_path, "max_cost_per_call")
            )
        return Budget(max_input, warn_at, increase, max_cost)

    def dollars(self, value: Any, key_path: tuple[Any, ...]) -> float:
        """A positive amount in USD: 0.05 or '$0.05'."""
        text = value.strip().lstrip("$") if isinstance(value, str) else value
        try:
            amount = float(text)
        except (TypeError, ValueError):
            amount = -1.0
        if isinstance(value, bool) or not amount > 0 or not math.isfinite(amount):
            raise self.error(
                key_path, f"must be a positive amount in USD, not {value!r}"
            )
        return amount

    def prices(self, value: Any, key_path: tuple[Any, ...]) -> dict[str, Price]:
        if not isinstance(value, dict):
            raise self.error(key_path, "must map model names to {input, output} prices")
        result = {}
        for model, fields in value.items():
            at = (*key_path, model)
            if not isinstance(fields, dict):
                raise self.error(at, "must be a mapping such as {input: 3, output: 15}")
            self.keys(fields, at, PRICE_FIELDS)
            if "input" not in fields or "output" not in fields:
                raise self.error(at, "needs input and output (USD per million tokens)")
            amounts = {
                name: self.price_amount(fields[name], (*at, name)) for name in fields
            }
            result[str(model)] = Price(**amounts)
        return result

    def price_amount(self, value: Any, key_path: tuple[Any, ...]) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not 0 <= value < math.inf
        ):
            raise self.error(key_path, f"must be USD per million tokens, not {value!r}")
        return float(value)

    def percent(self, value: Any, key_path: tuple[Any, ...]) -> float:
        """'90%' or 0.9 as a fraction."""
        fraction = math.nan
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                fraction = float(value.strip()[:-1]) / 100
            except ValueError:
                pass
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            fraction = float(value) / 100 if value > 1 else float(value)
        if math.isfinite(fraction):
            return fraction
        raise self.error(key_path, f"must be a percentage such as 90%, not {value!r}")

    def discover(self, value: Any, base_dir: str) -> DiscoverSettings:
        key_path: tuple[Any, ...] = ("discover",)
        if value is None:
            return DiscoverSettings()
        if not isinstance(value, dict):
            raise self.error(
                key_path, "must be a mapping such as {paths: [app], unbudgeted: warn}"
            )
        self.keys(value, key_path, DISCOVER_KEYS)
        paths = self.folders(value.get("paths", []), (*key_path, "paths"), base_dir)
        exclude = self.folders(
            value.get("exclude", []), (*key_path, "exclude"), base_dir
        )
        unbudgeted = value.get("unbudgeted", "warn")
        if unbudgeted not in UNBUDGETED:
            raise self.error(
                (*key_path, "unbudgeted"),
                "must be ignore, warn or error, not "
                + (
                    f"{str(unbudgeted).lower()} (write ignore to turn it off)"
                    if isinstance(unbudgeted, bool)
                    else repr(unbudgeted)
                ),
            )
        return DiscoverSettings(paths, exclude, unbudgeted)

    def folders(
        self, value: Any, key_path: tuple[Any, ...], base_dir: str
    ) -> tuple[str, ...]:
        """Folders, files or globs, made repository-relative."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.error(key_path, "must be a path or a list of paths")
        result = []
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise self.error((*key_path, i), "must be a path such as app/prompts")
            try:
                joined = join_inside(base_dir, item.strip().rstrip("/"), origin="")
            except ConfigError as exc:
                raise self.error((*key_path, i), str(exc).lstrip(": ")) from None
            result.append(joined)
        return tuple(result)

    def increase(self, value: Any, key_path: tuple[Any, ...]) -> Increase:
        if isinstance(value, str) and value.strip().endswith("%"):
            fraction = self.percent(value, key_path)
            if fraction < 0:
                raise self.error(key_path, "must not be negative")
            return Increase(percent=fraction)
        return Increase(tokens=self.count(value, key_path, zero=True))


def _yaml_word(value: Any) -> str:
    """A YAML value as it would be written: null, true, 2, 'text'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _dotted(key_path: tuple[Any, ...]) -> str:
    """features.a.budget: for messages; odd keys shown as YAML would write them."""

    def word(key: Any) -> str:
        if isinstance(key, str):
            return key if key.isprintable() else repr(key)
        if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
            return str(key)  # a list index
        return _yaml_word(key)

    return (".".join(map(word, key_path)) + ": ") if key_path else ""


def _nearest(word: str, choices: tuple[str, ...]) -> str | None:
    import difflib  # only on the error path

    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None
