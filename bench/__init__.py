"""Benchmarks: `make bench` (bench/run.py) and the dataset generator (bench/generate.py)."""
