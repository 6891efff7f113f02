"""Conversations with models: sending, regenerating, editing and stopping answers, the
background generations that stream them, and the subscriptions that deliver them."""
