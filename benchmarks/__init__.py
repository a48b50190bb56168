"""Benchmarks: not tests. Each module runs its contenders in one process and prints ratios."""
