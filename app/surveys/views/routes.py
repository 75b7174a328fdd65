"""Survey pages: routes (docs/surveys.md)."""
