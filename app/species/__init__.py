"""The species registry: lists (名录), species, their names, metrics, severity and follow-up defaults."""
