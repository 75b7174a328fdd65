"""Notifications: the in-app inbox, and the outbox the scheduler delivers by e-mail and webhooks."""
