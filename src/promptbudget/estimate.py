"""Offline token estimates for Anthropic's count_tokens endpoint.

Two estimators stand behind one API:

* ``ctok`` (Python 3.12+): an offline reconstruction of Claude's tokenizers that
  reproduces count_tokens for a single user message. It is imported lazily, only
  when an estimate is asked for, and its availability is checked once.
* ``heuristic`` (any Python): a rule-based count with a handful of per-family
  coefficients. See :func:`heuristic_tokens` for the rule.

Model names map to tokenizer families through ``data/models.json``; an unknown
name is estimated as the newest family and reported as unknown by
:func:`family_for`.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "estimate_message",
    "estimate_request",
    "estimate_text",
    "estimator_name",
    "family_for",
    "heuristic_tokens",
]


# ---------------------------------------------------------------------------
# Model table


@dataclass(frozen=True)
class Family:
    """One tokenizer family as described in ``data/models.json``."""

    key: str
    ctok_version: str
    message_overhead: int
    tool_preamble_auto: int
    tool_preamble_any: int


@dataclass(frozen=True)
class _Table:
    families: dict[str, Family]
    patterns: tuple[tuple[re.Pattern[str], str], ...]
    default_family: str


@lru_cache(maxsize=1)
def _table() -> _Table:
    """Load ``data/models.json`` once."""
    raw = (Path(__file__).parent / "data" / "models.json").read_text(encoding="utf-8")
    doc = json.loads(raw)
    families = {
        key: Family(
            key=key,
            ctok_version=str(spec["ctok_version"]),
            message_overhead=int(spec["message_overhead"]),
            tool_preamble_auto=int(spec["tool_preamble"]["auto"]),
            tool_preamble_any=int(spec["tool_preamble"]["any"]),
        )
        for key, spec in doc["families"].items()
    }
    patterns = tuple(
        (re.compile(entry["pattern"]), str(entry["family"])) for entry in doc["models"]
    )
    return _Table(families, patterns, str(doc["default_family"]))


def _normalize_model(model: str) -> str:
    """Lower-case and drop a provider prefix such as ``anthropic/`` or
    ``us.anthropic.`` so platform model ids match the same patterns."""
    name = model.strip().lower()
    start = name.find("claude-")
    if start > 0 and name[:start].rstrip("./:").endswith("anthropic"):
        name = name[start:]
    return name


def family_for(model: str) -> tuple[str, bool]:
    """The tokenizer family for ``model`` and whether the name is known.

    Patterns in ``data/models.json`` are tried in order and the first full match
    wins. A name that matches none maps to the newest family, flagged unknown.
    """
    table = _table()
    name = _normalize_model(model)
    for pattern, family in table.patterns:
        if pattern.fullmatch(name):
            return family, True
    return table.default_family, False


def _family(model: str) -> Family:
    return _table().families[family_for(model)[0]]


# ---------------------------------------------------------------------------
# ctok, imported lazily


# PROMPTBUDGET_ESTIMATOR=heuristic forces the built-in estimate even where
# ctok is installed, to measure it (see benchmarks/offline_fidelity.py).
_CHOICE = {"estimator": "auto"}


def choose(estimator: str) -> None:
    """Use "auto" (ctok when it imports), "ctok" or "heuristic" from now on."""
    from promptbudget.errors import ConfigError

    if estimator not in ("auto", "ctok", "heuristic"):
        raise ConfigError(
            f"PROMPTBUDGET_ESTIMATOR={estimator!r}: use auto, ctok or heuristic"
        )
    if estimator == "ctok" and not _ctok_imports():
        raise ConfigError(
            "PROMPTBUDGET_ESTIMATOR=ctok: ctok is not installed (it needs Python 3.12+)"
        )
    _CHOICE["estimator"] = estimator


def _ctok_available() -> bool:
    """Whether ctok is to be used: it imports here (Python 3.12+) and is wanted."""
    return _CHOICE["estimator"] != "heuristic" and _ctok_imports()


@lru_cache(maxsize=1)
def _ctok_imports() -> bool:
    """Whether ``ctok`` imports here (it needs Python 3.12+). Checked once."""
    try:
        import ctok  # noqa: F401
    except Exception:  # ImportError, or a SyntaxError on an older Python
        return False
    return True


def estimator_name() -> str:
    """``"ctok"`` when ctok imports, else ``"heuristic"``."""
    return "ctok" if _ctok_available() else "heuristic"


def _ctok_message(text: str, family: Family) -> int:
    import ctok

    return int(ctok.token_count(text, family.ctok_version))


# ---------------------------------------------------------------------------
# The heuristic

# Character classes. Latin covers ASCII letters and the Latin-1/Extended
# letters; "alphabetic" covers other scripts written in words of letters.
_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"
_CYRILLIC = "\u0400-\u052f"
_ALPHA = "\u0370-\u03ff\u0530-\u058f\u0590-\u05ff\u0600-\u06ff\u10a0-\u10ff"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANA = "\u3040-\u30ff"
_HANGUL = "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
_CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"

_SEGMENT = re.compile(
    rf"(?P<latin>[{_LATIN}]+)"
    r"|(?P<contraction>'(?:s|t|re|ve|ll|d|m)(?![A-Za-z]))"
    rf"|(?P<cyrillic>[{_CYRILLIC}]+)"
    rf"|(?P<alpha>[{_ALPHA}]+)"
    rf"|(?P<han>[{_HAN}])"
    rf"|(?P<kana>[{_KANA}])"
    rf"|(?P<hangul>[{_HANGUL}])"
    rf"|(?P<cjkpunct>[{_CJK_PUNCT}])"
    r"|(?P<digits>[0-9]+)"
    r"|(?P<newlines>[\r\n]+)"
    r"|(?P<spaces> +)"
    r"|(?P<tabs>[\t\v\f][ \t\v\f]*)"
    r"|(?P<punct>[!-/:-@\[-`{-~]+)"
    r"|(?P<other>(?P<char>.)(?P=char)*)",
    re.DOTALL,
)
# Case parts of a Latin word: "getHTTPResponse" -> get, HTTP, Response.
_CASE_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[^A-Z]+|[A-Z]")

# Frequent English and programming words that are one token in every family
# (checked with ctok). Their share of a text's words tells how well the
# vocabulary fits it: prose in other languages splits into more pieces.
_COMMON_WORDS = frozenset(
    """
    about above access account action active add added address after all also an and
    any application are args array as async at available background base be because
    been before below between block body border both box but button by call can case
    change char character check child class close code color command config const
    container content context control core count create created current data def
    default define described description details device different display do
    document does done during each early either element else end err error event
    example except false family field file files find first following font for
    format found free from full function general get git given group has have head
    header height help history host however html id if image in include index info
    information init input int into is it item its join key label language last
    later left len length level library license like line link list local location
    log login long made main make map match max may members message method might min
    module more must my name names need network new next no node none not note null
    num number object of old on one only open option options or order other out
    output package page param part password path per point port position print
    process program project property public push question random range read real
    record release report request required result return right root run same section
    security see select self service session set short should since single size so
    some source space split src start state static status std str string style
    success such support system table target template term test text than that the
    their then there these they this those time title to token top true try two type
    types under up update use used user users using value values var version via
    view void was we were when where which while width will window with without
    working would write written you
    """.split()
)

# Fixed prices, the same in every family (measured with ctok over code and
# prose in about 150 languages; the families share these pieces).
_PER_CHAR = {"han": 1.13, "kana": 0.77, "hangul": 1.05, "cjkpunct": 1.0}
# (price per word, price per letter) for words of other alphabets.
_PER_WORD = {"cyrillic": (0.7, 0.4), "alpha": (0.5, 0.75)}
# Price per character of scripts outside the classes above, by 128-code-point
# block (Indic, Southeast Asian and other abugidas differ a lot).
_BLOCK_PRICE = {
    0x0900: 0.95,  # Devanagari
    0x0980: 1.1,  # Bengali
    0x0A00: 2.2,  # Gurmukhi
    0x0A80: 1.15,  # Gujarati
    0x0B00: 1.7,  # Oriya
    0x0B80: 1.0,  # Tamil
    0x0C00: 1.05,  # Telugu
    0x0C80: 1.95,  # Kannada
    0x0D00: 1.25,  # Malayalam
    0x0D80: 1.1,  # Sinhala
    0x0E00: 0.97,  # Thai
    0x0E80: 1.2,  # Lao
    0x0F00: 1.3,  # Tibetan
    0x1000: 1.17,  # Myanmar
    0x1200: 1.75,  # Ethiopic
    0x1280: 1.7,  # Ethiopic
    0x1300: 2.3,  # Ethiopic
    0x1780: 1.2,  # Khmer
}
_SPACES_PER_TOKEN = 16  # a long run of spaces splits into tokens of <= 16
_DIGITS_PER_TOKEN = 3  # digits are grouped in threes
_REPEAT_PER_TOKEN = 3  # a run of one repeated symbol merges about three a token

# Fitted prices per family. Each feature is counted in _features(); the
# first group is scaled by the text's vocabulary factor (see _language_scale).
_FEATURES = (
    "lower",  # a lower-case word part that is not a common word
    "lower_extra",  # each letter of it beyond the fourth
    "capital",  # a Capitalised part (or a single capital) not a common word
    "capital_extra",  # each letter of it beyond the third
    "accent",  # each non-ASCII Latin letter
    # -- not scaled:
    "common",  # a common word in lower case
    "common_capital",  # a common word Capitalised
    "upper",  # an UPPER-case part of two or more letters
    "upper_extra",  # each letter of it beyond the second
    "case_join",  # each case change inside a word (camelCase)
    "tab",  # a run of tabs
    "punct",  # a run of ASCII punctuation
    "punct_extra",  # each further character of a mixed run
    "repeat_extra",  # each further character of a one-character run
)
_SCALED = 5  # the first five features are scaled
_COEFFICIENTS: dict[str, tuple[float, ...]] = {
    "v3": (
        0.9,
        0.16,
        1.11,
        0.23,
        0.64,
        1.0,
        1.0,
        1.47,
        0.14,
        0.28,
        1.22,
        1.0,
        0.21,
        0.07,
    ),
    "v4.7": (
        1.4,
        0.35,
        1.63,
        0.48,
        0.38,
        1.0,
        1.8,
        1.95,
        0.76,
        0.32,
        1.26,
        1.05,
        0.35,
        0.25,
    ),
}
_COEFFICIENTS["v4.8"] = _COEFFICIENTS["v4.7"]  # same vocabulary as v4.7
# How much the scaled prices grow as the share of common words falls:
# scale = 1 + slope * (_COMMON_REFERENCE - share).
_LANGUAGE_SLOPE = {"v3": 0.8, "v4.7": 0.4, "v4.8": 0.4}
_COMMON_REFERENCE = 0.5
# The share is shrunk toward a prior so that short texts stay near neutral.
_COMMON_PRIOR = 0.4
_COMMON_PRIOR_WEIGHT = 10.0
# Whether the family's frame ends in a word-start marker that is a token of
# its own when the text does not open with a word (ctok's ``frame_bow``).
_FRAME_BOW = {"v3": True, "v4.7": True, "v4.8": False}


def _other_price(run: str) -> float:
    """A run of one character outside the classes above: the first by its
    script block or UTF-8 length, each repeat at a third of a token."""
    char = run[0]
    size = len(char.encode("utf-8"))
    if size <= 2:
        price = 1.0
    elif size == 3:
        price = _BLOCK_PRICE.get(ord(char) & ~0x7F, 1.25)
    else:
        price = 3.0
    return price + (len(run) - 1) / _REPEAT_PER_TOKEN


def _features(text: str) -> tuple[float, list[float], float]:
    """Split ``text`` into segments.

    Returns the fixed price, the feature counts (see ``_FEATURES``) and the
    share of common words among the word parts of two or more letters, shrunk
    toward ``_COMMON_PRIOR``.
    """
    fixed = 0.0
    counts = [0.0] * len(_FEATURES)
    common = words = 0
    segments = [(m.lastgroup or "other", m.group()) for m in _SEGMENT.finditer(text)]
    for i, (kind, seg) in enumerate(segments):
        following = segments[i + 1][0] if i + 1 < len(segments) else ""
        if kind == "latin":
            parts = _CASE_PART.findall(seg)
            counts[9] += len(parts) - 1
            for part in parts:
                length = len(part)
                if length > 1 and part.isupper():
                    counts[7] += 1
                    counts[8] += length - 2
                    continue
                capital = part[0].isupper()
                if length > 1:
                    words += 1
                    if part.lower() in _COMMON_WORDS:
                        common += 1
                        counts[6 if capital else 5] += 1
                        continue
                counts[4] += sum(1 for c in part if c > "\x7f")
                if capital:
                    counts[2] += 1
                    counts[3] += max(0, length - 3)
                else:
                    counts[0] += 1
                    counts[1] += max(0, length - 4)
        elif kind == "contraction":
            fixed += 1.0  # 's, 't, 're ... are one token
        elif kind in _PER_WORD:
            per_word, per_letter = _PER_WORD[kind]
            fixed += per_word + per_letter * len(seg)
        elif kind in _PER_CHAR:
            fixed += _PER_CHAR[kind]
        elif kind == "digits":
            fixed += math.ceil(len(seg) / _DIGITS_PER_TOKEN)
        elif kind == "newlines":
            fixed += 1.0
        elif kind == "spaces":
            # One space before a word or punctuation joins that token.
            joins = following in ("latin", "cyrillic", "alpha", "punct")
            if not (seg == " " and joins):
                fixed += math.ceil(len(seg) / _SPACES_PER_TOKEN)
        elif kind == "tabs":
            counts[10] += 1
        elif kind == "punct":
            counts[11] += 1
            if len(set(seg)) == 1:
                counts[13] += len(seg) - 1
            else:
                counts[12] += len(seg) - 1
        else:
            fixed += _other_price(seg)
    share = (common + _COMMON_PRIOR * _COMMON_PRIOR_WEIGHT) / (
        words + _COMMON_PRIOR_WEIGHT
    )
    return fixed, counts, share


def _language_scale(family: str, share: float) -> float:
    """Price factor for uncommon words: a text with few common words (another
    language, or unusual vocabulary) splits its words into more tokens."""
    slope = _LANGUAGE_SLOPE.get(family, _LANGUAGE_SLOPE["v4.8"])
    return max(0.5, 1.0 + slope * (_COMMON_REFERENCE - share))


def heuristic_tokens(text: str, family: str = "v3") -> int:
    """Tokens of ``text`` alone (no message frame) by the offline rule.

    The text is NFC-normalised and split into segments:

    * Latin words are split at case changes (``getHTTPResponse`` -> get, HTTP,
      Response). A part that is one of ``_COMMON_WORDS`` costs one token (a
      Capitalised one costs the family's shift price). Any other part costs a
      base price by its shape (lower, Capital, UPPER) plus a price per letter
      beyond the fourth (third for Capital, second for UPPER) and per accented
      letter. The prices of uncommon lower and Capital parts are scaled by the
      text's share of common words: prose in another language, where few
      words are common, splits into more pieces (``_language_scale``).
    * Digits cost one token per group of three; a newline run costs one; a run
      of spaces costs one per 16 spaces, nothing when it is a single space in
      front of a word or punctuation; a tab run and English contractions
      (``'s``, ``'t`` ...) cost about one.
    * A punctuation run costs about one plus a price per further character
      (lower for a run of one repeated character).
    * Han, kana and Hangul are priced per character, Cyrillic and other
      alphabets per word and letter, other scripts per character by Unicode
      block, anything else by its UTF-8 length.

    The fixed prices were measured, and the per-family prices fitted, against
    ctok over code in 13 languages and prose in about 150; v4.8 shares v4.7's
    prices. Deterministic; returns 0 for an empty text.
    """
    if not text:
        return 0
    coefficients = _COEFFICIENTS.get(family, _COEFFICIENTS["v4.8"])
    fixed, counts, share = _features(unicodedata.normalize("NFC", text))
    priced = [c * n for c, n in zip(coefficients, counts, strict=True)]
    scale = _language_scale(family, share)
    total = fixed + scale * sum(priced[:_SCALED]) + sum(priced[_SCALED:])
    return max(1, round(total))


def _heuristic_message(text: str, family: Family) -> int:
    tokens = heuristic_tokens(text, family.key)
    starts_with_word = bool(re.match(rf"[ ]?[{_LATIN}{_CYRILLIC}{_ALPHA}]", text))
    if _FRAME_BOW.get(family.key, False) and not starts_with_word:
        tokens += 1
    return family.message_overhead + tokens


# ---------------------------------------------------------------------------
# Public estimates


def estimate_message(text: str, model: str) -> int:
    """Estimated count_tokens answer for one user message whose content is
    ``text``, frame included (ctok when available, else the heuristic)."""
    family = _family(model)
    if _ctok_available():
        return _ctok_message(text, family)
    return _heuristic_message(text, family)


def estimate_text(text: str, model: str) -> int:
    """Tokens of ``text`` alone, without any message frame; 0 for ``""``."""
    if not text:
        return 0
    family = _family(model)
    if _ctok_available():
        return max(0, _ctok_message(text, family) - family.message_overhead)
    return heuristic_tokens(text, family.key)


# Tokens assumed for each boundary between blocks or messages (role markers and
# separators); an approximation, not a measured figure.
_BOUNDARY_TOKENS = 3


def estimate_request(request: dict[str, Any]) -> int:
    """Estimate for a whole canonical count_tokens request.

    ``request`` is ``{"model": str, "system": [{"type": "text", "text": str},
    ...], "tools": [dict, ...], "messages": [{"role": "user" | "assistant",
    "content": str}, ...]}``; ``system`` and ``tools`` may be absent or empty,
    and an optional ``tool_choice`` of type ``any`` or ``tool`` selects the
    smaller published tool preamble.

    The sum is: the family's message-frame overhead, plus each system block's
    text and each message's content (estimate_text), plus a few tokens per
    block or message boundary, plus, when tools are given, the family's tool-use
    preamble and each tool serialised as ``json.dumps(tool, sort_keys=True,
    ensure_ascii=False)``. Only the single-user-message shape is measured
    against the real endpoint; system blocks, tools and multi-message
    conversations are approximations. Deterministic.
    """
    model = str(request["model"])
    family = _family(model)
    total = family.message_overhead
    system = request.get("system") or []
    for block in system:
        total += _BOUNDARY_TOKENS + estimate_text(str(block.get("text", "")), model)
    tools = request.get("tools") or []
    if tools:
        choice = (request.get("tool_choice") or {}).get("type", "auto")
        if choice in ("any", "tool"):
            total += family.tool_preamble_any
        else:
            total += family.tool_preamble_auto
        for tool in tools:
            serialised = json.dumps(tool, sort_keys=True, ensure_ascii=False)
            total += estimate_text(serialised, model)
    messages = request.get("messages") or []
    for index, message in enumerate(messages):
        if index:
            total += _BOUNDARY_TOKENS
        total += estimate_text(str(message.get("content", "")), model)
    return total
