"""Assets, one module per layer: landing, raw (ingest + validation), dbt, published and report."""
