"""Typed specifications (hardware, clusters, models) loaded from YAML and validated."""
