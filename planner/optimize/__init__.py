"""Optimizers: stage partitioning (PipeDream's DP and its chain view) and other planners."""
