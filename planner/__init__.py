"""planner: analytical performance models and exact planners for distributed deep learning."""

__version__ = "0.1.0"
