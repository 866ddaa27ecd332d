"""Rewards written by the user: `python` (a plain function)."""
