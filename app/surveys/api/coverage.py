"""Surveys API: coverage (docs/surveys.md)."""
