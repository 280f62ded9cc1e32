"""Benchmarks, run as `./dev bench NAME` (python -m bench.NAME). They measure; they never pass or fail."""
