"""Surveys schemas: plots (docs/surveys.md)."""
