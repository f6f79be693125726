"""The SARIF 2.1.0 reporter, for GitHub code scanning.

One result per feature and model over or near its budget, at the artifact
that grew (in a diff) or the feature's first artifact. Paths are relative
to the repository root (%SRCROOT%), as code scanning expects.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from promptbudget import __version__
from promptbudget.budget import Row
from promptbudget.run import Report

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/promptbudget-lint/"

RULES: list[dict[str, Any]] = [
    {
        "id": "over-budget",
        "name": "OverBudget",
        "shortDescription": {"text": "Input tokens over max_input_tokens"},
        "fullDescription": {
            "text": "A feature's request, slot allowances included, has more "
            "input tokens than budgets.yaml allows for it."
        },
        "help": {
            "text": "Shorten the feature's prompts or tools, or raise "
            "features.<name>.budget.max_input_tokens in budgets.yaml."
        },
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["tokens", "cost"]},
    },
    {
        "id": "over-increase",
        "name": "OverIncrease",
        "shortDescription": {"text": "Input tokens grew past max_increase"},
        "fullDescription": {
            "text": "A feature's input grew against the base branch by more "
            "than budgets.yaml allows."
        },
        "help": {
            "text": "Undo part of the growth, or raise "
            "features.<name>.budget.max_increase in budgets.yaml."
        },
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["tokens", "cost"]},
    },
    {
        "id": "near-budget",
        "name": "NearBudget",
        "shortDescription": {"text": "Input tokens past warn_at"},
        "fullDescription": {
            "text": "A feature's input is within its budget but past the "
            "budget's warn_at share."
        },
        "help": {
            "text": "Plan for the limit: shorten the prompts, or raise "
            "max_input_tokens or warn_at in budgets.yaml."
        },
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["tokens", "cost"]},
    },
]
RULE_INDEX = {rule["id"]: i for i, rule in enumerate(RULES)}


def render_sarif(report: Report) -> str:
    results = [_result(row) for row in report.rows if row.status != "ok"]
    document = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "promptbudget",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": RULES,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def rule_for(row: Row) -> str:
    if row.status == "warn":
        return "near-budget"
    over_limit = (
        row.max_input_tokens is not None
        and row.input_tokens is not None
        and row.input_tokens > row.max_input_tokens
    )
    return "over-budget" if over_limit else "over-increase"


def _result(row: Row) -> dict[str, Any]:
    rule = rule_for(row)
    result: dict[str, Any] = {
        "ruleId": rule,
        "ruleIndex": RULE_INDEX[rule],
        "level": "warning" if rule == "near-budget" else "error",
        "message": {"text": " ".join(row.reasons) or f"{row.feature}: {rule}"},
    }
    location = row.changed_at or row.location
    if location is not None:
        result["locations"] = [
            {
                "physicalLocation": {
                    "artifactLocation": {
                        "uri": location[0],
                        "uriBaseId": "%SRCROOT%",
                    },
                    "region": {"startLine": location[1]},
                }
            }
        ]
    # Code scanning matches alerts across runs by this, not by line.
    identity = f"{rule}\0{row.feature}\0{row.model}".encode()
    result["partialFingerprints"] = {
        "promptbudgetFeature/v1": hashlib.sha256(identity).hexdigest()[:32]
    }
    result["properties"] = {
        "feature": row.feature,
        "model": row.model,
        "inputTokens": row.input_tokens,
        "maxInputTokens": row.max_input_tokens,
        "exact": row.exact,
    }
    return result
