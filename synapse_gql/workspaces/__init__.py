"""Workspaces, members and invitations: the tenant boundary and who is inside it."""
