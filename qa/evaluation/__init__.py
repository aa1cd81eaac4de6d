"""Measuring: eval sets and BEIR (evaluate), tuning on training splits (tune), and benchmarks (bench)."""
