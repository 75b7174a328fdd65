"""Pages that belong to no one domain: home, language, health."""
