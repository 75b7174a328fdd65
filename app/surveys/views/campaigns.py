"""Survey pages: campaigns (docs/surveys.md)."""
