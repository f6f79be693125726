"""Which model handles which task: small tasks go to a small model."""

ROUTES = {
    "classify_intent": {"model": "claude-haiku-4-5", "max_tokens": 16},
    "answer_question": {"model": "claude-sonnet-4-6", "max_tokens": 1024},
    "summarize_thread": {"model": "claude-haiku-4-5", "max_tokens": 512},
    "escalation_answer": {"model": "claude-opus-4-8", "max_tokens": 2048},
}
