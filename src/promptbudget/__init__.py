"""promptbudget: token budgets for the prompts an LLM app sends."""

__version__ = "0.1.0"
