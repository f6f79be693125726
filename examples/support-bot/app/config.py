"""Retrieval and runtime settings."""

TOP_K = 5
CHUNK_TOKENS = 400
CHUNK_OVERLAP_TOKENS = 40
DOCS_INDEX = "tallybook-help-center"
REQUEST_TIMEOUT_SECONDS = 30.0
