"""Survey pages: coverage (docs/surveys.md)."""
