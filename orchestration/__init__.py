"""Dagster definitions: landing folder -> raw tables (with GX checks) -> dbt models -> published copy."""
