"""Calls to the Messages API for each support task."""

from __future__ import annotations

from pathlib import Path

import anthropic
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .config import REQUEST_TIMEOUT_SECONDS, TOP_K
from .prompts import CLASSIFY_SYSTEM, SAFETY_RULES, SUMMARIZE_SYSTEM, SUPPORT_SYSTEM
from .routing import ROUTES
from .tools import SUPPORT_TOOLS

INTENT_LABELS = ("billing", "bug_report", "account", "how_to", "other")

client = anthropic.Anthropic(timeout=REQUEST_TIMEOUT_SECONDS)
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def _text(response: anthropic.types.Message) -> str:
    return "".join(block.text for block in response.content if block.type == "text")


def retrieve(question: str, k: int = TOP_K) -> list[str]:
    """Return the k help-centre chunks most relevant to the question.

    Placeholder: the production service queries the vector index named in
    config.DOCS_INDEX.
    """
    return []


def classify_intent(message: str) -> str:
    response = client.messages.create(
        model=ROUTES["classify_intent"]["model"],
        max_tokens=ROUTES["classify_intent"]["max_tokens"],
        system=CLASSIFY_SYSTEM,
        messages=[{"role": "user", "content": message}],
    )
    label = _text(response).strip().lower()
    return label if label in INTENT_LABELS else "other"


def answer_question(question: str, chunks: list[str] | None = None) -> anthropic.types.Message:
    if chunks is None:
        chunks = retrieve(question, TOP_K)
    rendered = templates.get_template("answer.j2").render(
        context="\n\n---\n\n".join(chunks[:TOP_K]),
        question=question,
    )
    return client.messages.create(
        model=ROUTES["answer_question"]["model"],
        max_tokens=ROUTES["answer_question"]["max_tokens"],
        system=[
            {"type": "text", "text": SUPPORT_SYSTEM},
            {"type": "text", "text": SAFETY_RULES},
        ],
        tools=SUPPORT_TOOLS,
        messages=[{"role": "user", "content": rendered}],
    )


def summarize_thread(thread: str) -> str:
    rendered = templates.get_template("summarize.j2").render(thread=thread)
    response = client.messages.create(
        model=ROUTES["summarize_thread"]["model"],
        max_tokens=ROUTES["summarize_thread"]["max_tokens"],
        system=SUMMARIZE_SYSTEM,
        messages=[{"role": "user", "content": rendered}],
    )
    return _text(response).strip()
