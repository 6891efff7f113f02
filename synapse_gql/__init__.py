"""Synapse GQL: the GraphQL back end of an LLM platform."""

__version__ = "0.1.0"
