"""The one path every model call takes, chat answers and one-shot ``generate`` alike:

1. :func:`~synapse_gql.pipeline.plan.choose` and :func:`~synapse_gql.pipeline.plan.reserve`
   (in the caller's transaction): the model's adapter, the paying key, the price period in
   force, and the worst case reserved on every budget covering the call (BUDGET_EXCEEDED);
2. :func:`~synapse_gql.pipeline.call.start_call` (no transaction open): the provider call
   with retries; the caller tries the fallback when :func:`needs_fallback` says so;
   :func:`~synapse_gql.pipeline.call.failure` is the typed error of a failed call;
3. :func:`~synapse_gql.pipeline.meter.meter_and_settle` (in the closing transaction): usage
   rows, totals, budgets and billing through ``record_call``, the reservation released, then
   the ``AppState.metered_hooks``; the usage news is queued on the session;
4. :func:`~synapse_gql.pipeline.announce.announce`: once committed, every event the
   transaction queued goes out through the one realtime publisher.
"""

from synapse_gql.pipeline.announce import announce
from synapse_gql.pipeline.call import failure, needs_fallback, start_call
from synapse_gql.pipeline.meter import CallScope, MeteredHook, call_record, meter_and_settle
from synapse_gql.pipeline.plan import CallPlan, ModelChoice, Prompt, choose, reserve

__all__ = [
    "CallPlan",
    "CallScope",
    "MeteredHook",
    "ModelChoice",
    "Prompt",
    "announce",
    "call_record",
    "choose",
    "failure",
    "meter_and_settle",
    "needs_fallback",
    "reserve",
    "start_call",
]
