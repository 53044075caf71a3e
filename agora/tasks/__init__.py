"""Tasks: who does what, by when: lists, statuses, board, timeline, my tasks."""
