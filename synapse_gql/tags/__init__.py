"""Tags: workspace-scoped labels on conversations, messages and projects."""
