"""Secrets, password hashing, signed access tokens and encryption at rest."""
