"""Alerts: spend thresholds and provider health, listed, acknowledged, resolved and
announced live to the workspace.

Metering calls :func:`evaluate_after_call` after each recorded call (inside its transaction;
it judges on the pace of :mod:`synapse_gql.alerts.pacing`);
everything else is reached through the GraphQL types of this package.
"""

from synapse_gql.alerts.health import evaluate_after_call
from synapse_gql.alerts.live import announce_alerts, bind_alerts

__all__ = ["announce_alerts", "bind_alerts", "evaluate_after_call"]
