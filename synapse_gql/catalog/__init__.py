"""The LLM catalog: models, providers and list prices with history."""
