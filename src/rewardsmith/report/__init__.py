"""Summaries of scored batches."""
