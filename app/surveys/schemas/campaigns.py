"""Surveys schemas: campaigns (docs/surveys.md)."""
