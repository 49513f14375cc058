"""Runs: everything a user trained, one folder each, written atomically."""
