"""Benchmarks: scripts that print figures and assert nothing (not part of the installed package).

Run from the repository root: ``python -m benchmarks.<name>`` or ``python benchmarks/<name>.py``.
"""
