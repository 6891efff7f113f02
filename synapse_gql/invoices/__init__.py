"""Invoices: monthly bills generated from the usage log, issued, paid or voided."""
