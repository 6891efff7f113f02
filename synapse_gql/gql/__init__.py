"""GraphQL building blocks shared by every feature: ids, connections, errors, limits."""
