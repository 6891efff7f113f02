"""Saved dashboards: widgets that run stored analytics queries through the schema."""
