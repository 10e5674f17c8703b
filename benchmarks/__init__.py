"""The benchmarks of keras-lerac: run each as `python -m benchmarks.NAME` from the repository root.

Shared parts: `report` (the one table and results-file writer), `timing` (paired timing
rounds and their statistics), `workers` (one worker process per backend). Harnesses:
`overhead`, `scaling`, `gpu`, `profile_apply`, `profile_compile`, `accuracy`, and the
`sensitivity` study. `docs/benchmarks.md` says what each answers.
"""
