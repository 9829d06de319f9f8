"""Benchmarks: ``python -m benchmarks.run`` (or ``make bench``) prints a table and writes RESULTS.md."""
