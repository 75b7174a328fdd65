"""Surveys API: plots (docs/surveys.md)."""
