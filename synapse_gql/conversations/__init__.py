"""Conversations, their messages and per-conversation LLM usage."""
