"""Benchmarks for seedance_widgets: ``python -m benchmarks`` prints one table of ratios."""
