"""Billing events (the workspace ledger), read-only through the API."""
