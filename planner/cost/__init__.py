"""Analytical cost models: parameter counts, FLOPs, memory and time."""
