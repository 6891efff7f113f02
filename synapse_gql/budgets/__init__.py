"""Scoped spend budgets: setting them, reserving a call's worst case against every budget
that covers it, settling the reservation when the call is metered, reading spend."""
