"""Tallybook customer-support assistant."""
