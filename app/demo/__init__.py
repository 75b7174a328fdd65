"""Demo set-up: the accounts a new installation needs to be tried out."""
