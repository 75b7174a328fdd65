"""Surveys API: campaigns (docs/surveys.md)."""
