"""Training datasets of public feedback: a signed link started by a mutation, streamed as
JSON Lines at an HTTP route."""
