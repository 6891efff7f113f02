"""One-shot generation (the ``generate`` mutation) and token counting (``countTokens``).

A call is checked (role, model, input, budget, API key) in one transaction, made with no
transaction open, and metered in a transaction of its own, failed calls included.
"""
