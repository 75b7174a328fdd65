"""Surveys API: routes (docs/surveys.md)."""
