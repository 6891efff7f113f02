"""Metering of LLM calls: pricing, usage logs, running totals, billing and budget alerts.

The send-message flow calls :func:`record_call` once per provider call, inside its own
transaction, and :func:`budget_allows` before calling a provider.
"""

from synapse_gql.metering.budget import budget_allows
from synapse_gql.metering.pricing import MissingPrice, cost, current_price
from synapse_gql.metering.service import AttemptRecord, CallRecord, RecordResult, record_call

__all__ = [
    "AttemptRecord",
    "CallRecord",
    "MissingPrice",
    "RecordResult",
    "budget_allows",
    "cost",
    "current_price",
    "record_call",
]
