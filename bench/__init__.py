"""Benchmark: requests, wall time and peak memory of a full sync against the emulator.

Run with `make bench ARGS="..."` or `python -m bench.run --help`. It measures; it is not a test and
always exits 0 once the measurement is done, printing PASS/MISS per target instead.
"""
