"""Runs, pure async and without IPython: jobs, planning from settings, sweeps, results, availability
(wait and fallback), the replay store."""
