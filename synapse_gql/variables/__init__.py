"""User variables and workspace secrets (provider API keys), encrypted at rest."""
