"""Sites (发生点 / 样地): places surveyed and treated over time, which observations join or open."""
