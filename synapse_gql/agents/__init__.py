"""Agents: named LLM configurations of a workspace."""
