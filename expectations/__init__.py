"""Load validation with Great Expectations: suites as YAML (suites/), the runner, and the DuckDB shim."""
