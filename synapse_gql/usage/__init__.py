"""The usage log of LLM calls, read-only through the API."""
