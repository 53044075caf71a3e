"""Polls: single and multiple choice, and date-finding, with named or anonymous ballots."""
