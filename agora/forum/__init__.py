"""Forum: the space's conversations, by theme."""
