"""Feedback: users' ratings of messages and their workspace summary."""
