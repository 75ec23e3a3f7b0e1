"""Helpers for tests that run the registry as an operator would (real processes)."""
