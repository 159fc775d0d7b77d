"""Reading CX exports: source specs, DuckDB readers, the loader and the sample-export generator."""
