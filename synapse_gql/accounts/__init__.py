"""Users, login, access tokens and long-lived API tokens."""
