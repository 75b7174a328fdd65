"""A site's history: its observations, control operations and follow-ups on one timeline."""
