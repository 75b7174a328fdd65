"""Surveys schemas: coverage (docs/surveys.md)."""
