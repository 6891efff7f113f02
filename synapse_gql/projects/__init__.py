"""Projects: groupings of agents and conversations inside a workspace."""
