"""Benchmarks: `make bench` (bench/compare) and `python -m bench.logout_fanout`."""
