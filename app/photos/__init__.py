"""Photos: checking, decoding and describing uploads, and the images shown in their place."""
