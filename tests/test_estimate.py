"""Tests for promptbudget.estimate, on texts written here (no recorded data)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from promptbudget import estimate
from promptbudget.estimate import (
    estimate_message,
    estimate_request,
    estimate_text,
    estimator_name,
    family_for,
    heuristic_tokens,
)

# One model per family, as the benchmark uses them.
FAMILY_MODELS = {
    "v3": "claude-opus-4-5",
    "v4.7": "claude-opus-4-7",
    "v4.8": "claude-opus-5",
}
OVERHEAD = {"v3": 7, "v4.7": 11, "v4.8": 6}
CTOK_VERSION = {"v3": "3.0", "v4.7": "4.7", "v4.8": "4.8"}

ENGLISH = "Please summarise the attached report in three short bullet points."
CODE = 'def add(a, b):\n    """Return the sum."""\n    return a + b\n'


@pytest.fixture(params=["auto", "heuristic"])
def estimator(request, monkeypatch):
    """Run a test with the estimator in effect here, then with the heuristic."""
    if request.param == "heuristic":
        monkeypatch.setattr(estimate, "_ctok_available", lambda: False)
    return request.param


# --------------------------------------------------------------------------
# models.json and family_for


def _models_doc() -> dict:
    raw = resources.files("promptbudget").joinpath("data", "models.json").read_text()
    return json.loads(raw)


def test_models_json_schema():
    doc = _models_doc()
    assert doc["as_of"] == "2026-12-03"
    assert "tool-use" in doc["source"] and "346" in doc["source"]
    assert doc["default_family"] == "v4.8"
    assert set(doc["families"]) == {"v3", "v4.7", "v4.8"}
    for key, spec in doc["families"].items():
        assert spec["ctok_version"] == CTOK_VERSION[key]
        assert spec["message_overhead"] == OVERHEAD[key]
        assert spec["tool_preamble"]["auto"] > 0
        assert spec["tool_preamble"]["any"] > 0
    for entry in doc["models"]:
        assert entry["family"] in doc["families"]
        for example in entry["examples"]:
            assert family_for(example) == (entry["family"], True), example


@pytest.mark.parametrize(
    ("model", "family"),
    [
        pytest.param("claude-3-opus-20240229", "v3", id="claude-3-opus"),
        pytest.param("claude-3-5-haiku-latest", "v3", id="claude-3-5-haiku-latest"),
        pytest.param("claude-3-5-sonnet-20241022", "v3", id="claude-3-5-sonnet"),
        pytest.param("claude-3-7-sonnet-20250219", "v3", id="claude-3-7-sonnet"),
        pytest.param("claude-sonnet-4-20250514", "v3", id="sonnet-4-dated"),
        pytest.param("claude-sonnet-4-0", "v3", id="sonnet-4-0"),
        pytest.param("claude-opus-4-1", "v3", id="opus-4-1"),
        pytest.param("claude-opus-4-1-20250805", "v3", id="opus-4-1-dated"),
        pytest.param("claude-sonnet-4-5", "v3", id="sonnet-4-5"),
        pytest.param("claude-haiku-4-5", "v3", id="haiku-4-5"),
        pytest.param("claude-haiku-4-5-20251001", "v3", id="haiku-4-5-dated"),
        pytest.param("claude-opus-4-5", "v3", id="opus-4-5"),
        pytest.param("claude-opus-4-6", "v3", id="opus-4-6"),
        pytest.param("claude-sonnet-4-6", "v3", id="sonnet-4-6"),
        pytest.param("claude-opus-4-7", "v4.7", id="opus-4-7"),
        pytest.param("claude-opus-4-8", "v4.8", id="opus-4-8"),
        pytest.param("claude-opus-5", "v4.8", id="opus-5"),
        pytest.param("claude-sonnet-5-5", "v4.8", id="sonnet-5-5"),
        pytest.param("claude-fable-5-2", "v4.8", id="fable-5-2"),
        pytest.param("claude-haiku-6", "v4.8", id="later-generation"),
        pytest.param("Claude-Opus-4-7", "v4.7", id="upper-case"),
        pytest.param(" claude-opus-4-7 ", "v4.7", id="surrounding-space"),
        pytest.param("anthropic/claude-sonnet-4-5", "v3", id="provider-prefix"),
        pytest.param(
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "v3", id="bedrock-id"
        ),
        pytest.param("claude-sonnet-4-5@20250929", "v3", id="vertex-id"),
    ],
)
def test_family_for_known(model, family):
    assert family_for(model) == (family, True)


@pytest.mark.parametrize(
    "model",
    [
        pytest.param("claude-mythos-preview", id="mythos-preview"),
        pytest.param("gpt-4o", id="other-vendor"),
        pytest.param("claude-2.1", id="claude-2"),
        pytest.param("", id="empty"),
    ],
)
def test_family_for_unknown_is_newest(model):
    assert family_for(model) == ("v4.8", False)


def test_unknown_model_is_estimated_as_newest_family():
    assert estimate_message(ENGLISH, "claude-mythos-preview") == estimate_message(
        ENGLISH, FAMILY_MODELS["v4.8"]
    )


# --------------------------------------------------------------------------
# estimator_name and the public estimates


def test_estimator_name():
    try:
        import ctok  # noqa: F401
    except Exception:
        expected = "heuristic"
    else:
        expected = "ctok"
    assert estimator_name() == expected


def test_estimator_name_when_forced(monkeypatch):
    monkeypatch.setattr(estimate, "_ctok_available", lambda: False)
    assert estimator_name() == "heuristic"


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
def test_empty_message_is_the_frame(family, estimator):
    # The frame, plus at most the word-start marker a frame may end in.
    count = estimate_message("", FAMILY_MODELS[family])
    assert OVERHEAD[family] <= count <= OVERHEAD[family] + 1


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        pytest.param("Hi", 1, 3, id="two-letters"),
        pytest.param("Hello, world!", 3, 8, id="greeting"),
        pytest.param(ENGLISH, 10, 25, id="sentence"),
    ],
)
def test_short_messages_are_frame_plus_a_few(family, text, low, high, estimator):
    content = estimate_message(text, FAMILY_MODELS[family]) - OVERHEAD[family]
    assert low <= content <= high


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
@pytest.mark.parametrize("text", [ENGLISH, CODE, "数据 данные données"], ids=str.split)
def test_doubled_text_estimates_more(family, text, estimator):
    model = FAMILY_MODELS[family]
    once = estimate_message(text, model)
    twice = estimate_message(text + "\n" + text, model)
    assert twice > once
    assert estimate_text(text + "\n" + text, model) > estimate_text(text, model)


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
def test_estimate_text_drops_the_frame(family, estimator):
    model = FAMILY_MODELS[family]
    assert estimate_text("", model) == 0
    # A text that opens with a word adds no marker, so the two differ by the frame.
    assert estimate_text(ENGLISH, model) == (
        estimate_message(ENGLISH, model) - OVERHEAD[family]
    )


# --------------------------------------------------------------------------
# The heuristic's rule, on values computed by hand from it


@pytest.mark.parametrize(
    ("text", "v3", "v47"),
    [
        # Four common words, one token each, in both families.
        pytest.param("the file is open", 4, 4, id="common-words"),
        # Digits in threes: 123|45 -> 2, the space before digits 1, 67 -> 1.
        pytest.param("12345 67", 4, 4, id="digits"),
        # Han 3 x 1.13 = 3.39 -> 3; Hangul 3 x 1.05 = 3.15 -> 3;
        # kana 4 x 0.77 = 3.08 -> 3.
        pytest.param("日本語", 3, 3, id="han"),
        pytest.param("한국어", 3, 3, id="hangul"),
        pytest.param("カタカナ", 3, 3, id="kana"),
        # Cyrillic words: (0.7 + 6 x 0.4) + (0.7 + 3 x 0.4) = 5.0.
        pytest.param("Привет мир", 5, 5, id="cyrillic"),
        # Two uncommon lower-case words of five letters: share of common words
        # (0 + 0.4 x 10) / (2 + 10) = 1/3.
        # v3:   (2 x 0.9 + 2 x 0.16) x (1 + 0.8 x (0.5 - 1/3)) = 2.40 -> 2
        # v4.7: (2 x 1.4 + 2 x 0.35) x (1 + 0.4 x (0.5 - 1/3)) = 3.73 -> 4
        pytest.param("hello world", 2, 4, id="uncommon-words"),
        # Segments: if | ( | x | == | 1 | ) | { | newline | indent | return | ;
        # | newline | }. Fixed: space before digit 1 + digits 1 + newlines 2 +
        # indent 1 = 5. Common words 2 (if, return), share (2 + 4) / (2 + 10)
        # = 0.5, so no scaling. One uncommon word "x"; six punctuation runs,
        # one repeated character in "==".
        # v3:   5 + 0.9 + 2 + 6 x 1.0 + 1 x 0.07 = 13.97 -> 14
        # v4.7: 5 + 1.4 + 2 + 6 x 1.05 + 1 x 0.25 = 14.95 -> 15
        pytest.param("if (x == 1) {\n    return;\n}", 14, 15, id="code"),
    ],
)
def test_heuristic_hand_computed(text, v3, v47):
    assert heuristic_tokens(text, "v3") == v3
    assert heuristic_tokens(text, "v4.7") == v47
    assert heuristic_tokens(text, "v4.8") == v47  # v4.8 shares v4.7's prices


def test_heuristic_empty_and_unknown_family():
    assert heuristic_tokens("") == 0
    assert heuristic_tokens("hello world", "v9") == heuristic_tokens(
        "hello world", "v4.8"
    )


def test_heuristic_is_deterministic_and_normalises():
    decomposed = "cafe\u0301 cre\u0300me"
    composed = "café crème"
    assert heuristic_tokens(decomposed) == heuristic_tokens(composed)
    assert heuristic_tokens(CODE * 3) == heuristic_tokens(CODE * 3)


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
def test_heuristic_message_adds_frame(family, monkeypatch):
    monkeypatch.setattr(estimate, "_ctok_available", lambda: False)
    model = FAMILY_MODELS[family]
    assert estimate_message(ENGLISH, model) == (
        OVERHEAD[family] + heuristic_tokens(ENGLISH, family)
    )


# --------------------------------------------------------------------------
# Whole requests

TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
def test_request_with_one_user_message_matches_message(family, estimator):
    model = FAMILY_MODELS[family]
    request = {"model": model, "messages": [{"role": "user", "content": ENGLISH}]}
    assert estimate_request(request) == estimate_message(ENGLISH, model)


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
def test_request_tools_cost_at_least_the_preamble(family, estimator):
    model = FAMILY_MODELS[family]
    base = {
        "model": model,
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [{"role": "user", "content": "Weather in Oslo?"}],
    }
    preamble = _models_doc()["families"][family]["tool_preamble"]
    without = estimate_request(base)
    with_tools = estimate_request({**base, "tools": [TOOL]})
    assert with_tools >= without + preamble["auto"]
    forced = estimate_request({**base, "tools": [TOOL], "tool_choice": {"type": "any"}})
    assert forced == with_tools - preamble["auto"] + preamble["any"]
    assert estimate_request({**base, "tools": []}) == without


def test_request_grows_with_system_and_turns(estimator):
    model = FAMILY_MODELS["v3"]
    one = {"model": model, "messages": [{"role": "user", "content": ENGLISH}]}
    with_system = {**one, "system": [{"type": "text", "text": "Be brief."}]}
    turns = {
        **one,
        "messages": [
            {"role": "user", "content": ENGLISH},
            {"role": "assistant", "content": "Here are three points."},
            {"role": "user", "content": "Shorter, please."},
        ],
    }
    assert estimate_request(with_system) > estimate_request(one)
    assert estimate_request(turns) > estimate_request(one)
    assert estimate_request(turns) == estimate_request(turns)


# --------------------------------------------------------------------------
# With ctok installed (Python 3.12+), the estimate is ctok's count


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
@pytest.mark.parametrize(
    "text",
    ["", "Hello, world!", ENGLISH, CODE, "Ünïcödé — 日本語 😀", "  indented\n\tTabbed"],
)
def test_matches_ctok(family, text):
    ctok = pytest.importorskip("ctok")
    expected = ctok.token_count(text, CTOK_VERSION[family])
    assert estimate_message(text, FAMILY_MODELS[family]) == expected
