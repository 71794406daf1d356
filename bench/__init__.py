"""Benchmarks of the mock, run side by side in one process tree: ``python -m bench``.

The machine is shared and noisy, so every figure that has a target is a ratio against
something measured in the same run (a bare Flask endpoint, Prism, the smallest store), or a
latency and size that noise only makes worse, never better.
"""
