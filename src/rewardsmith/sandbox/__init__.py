"""Isolated execution of untrusted code (see runner.py for the threat model)."""
