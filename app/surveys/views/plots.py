"""Survey pages: plots (docs/surveys.md)."""
