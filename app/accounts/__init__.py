"""Organizations, users, roles, sign-in and API tokens."""
