"""Tool definitions passed to the Messages API for the answering assistant."""

SUPPORT_TOOLS = [
    {
        "name": "lookup_invoice",
        "description": (
            "Fetch one invoice belonging to the signed-in customer by its invoice "
            "number. Returns the client name, issue and due dates, line items, "
            "total, currency, amount paid and status (draft, sent, overdue, paid, "
            "void). Use it whenever the customer asks about a specific invoice."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "invoice_number": {
                    "type": "string",
                    "description": "The invoice number as shown in Tallybook, e.g. INV-2024-0193.",
                },
                "include_payments": {
                    "type": "boolean",
                    "description": "Also return the list of payments recorded against the invoice.",
                },
            },
            "required": ["invoice_number"],
        },
    },
    {
        "name": "get_subscription",
        "description": (
            "Return the signed-in customer's Tallybook subscription: plan name, "
            "billing interval, seat count, next billing date, price and the last "
            "three subscription charges. Takes no input."
        ),
        "input_schema": {"type": "object", "properties": {}, "required": []},
    },
    {
        "name": "search_docs",
        "description": (
            "Search the Tallybook help centre and return the most relevant article "
            "excerpts with their titles. Use it when the documents already provided "
            "do not answer the question."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "A short search query in plain words."},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 8, "default": 3},
            },
            "required": ["query"],
        },
    },
    {
        "name": "create_ticket",
        "description": (
            "Open a ticket for the human support team. Use it for refund or credit "
            "requests, double charges, suspected security issues, lost data, or when "
            "the customer asks for a person. Returns the ticket id to share with "
            "the customer."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "category": {
                    "type": "string",
                    "enum": ["billing", "bug_report", "account", "security", "other"],
                },
                "subject": {"type": "string", "description": "One line, under 80 characters."},
                "details": {
                    "type": "string",
                    "description": "What the customer reported and what has been tried, with invoice numbers.",
                },
                "priority": {"type": "string", "enum": ["low", "normal", "urgent"], "default": "normal"},
            },
            "required": ["category", "subject", "details"],
        },
    },
]
