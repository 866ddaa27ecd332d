"""Outcome verifiers: each module registers its component on import."""
