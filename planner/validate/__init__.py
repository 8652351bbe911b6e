"""Validation: reference cases (published figures and exact counts) against the planner's predictions."""
