"""Surveys schemas: routes (docs/surveys.md)."""
