"""Benchmarks of the pipeline (ingest, validation, dbt build, incremental run) against bare DuckDB and dlt.

Entry point: `python bench/run.py --customers 100000` (or `make bench`). See docs/BENCHMARKS.md.
"""
