"""Member directory: who is who in the space, on each person's terms."""
