"""The one place where Great Expectations is patched to run on DuckDB.

GX 1.24's `SqlAlchemyExecutionEngine.execute_query` runs a query inside `with self.get_connection()`
and returns the live result after the block has closed the connection. Closing rolls the implicit
transaction back and duckdb-engine then drops the pending rows, so callers see no rows: every metric
fails with `list index out of range`, or worse, a missing unexpected count silently reads as 0.
The fix buffers the rows (`result.freeze()`) while the connection is still open.

tests/test_gx_duckdb_shim.py fails if a GX upgrade changes the method this replaces, and its canary
fails once upstream fixes the bug, so the patch can be removed.
"""

from __future__ import annotations

_MARK = "_cxw_duckdb_shim"


def install() -> None:
    """Patch GX once per process; calling again does nothing."""
    from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine

    original = SqlAlchemyExecutionEngine.execute_query
    if getattr(original, _MARK, False):
        return

    def execute_query(self, query):  # GX 1.24 signature: (self, query) -> Result
        if self.dialect_name != "duckdb":
            return original(self, query)
        with self.get_connection() as connection:
            result = self._execute_query_with_recovery(connection, query)
            return result.freeze()()  # a buffered Result: fetchall/fetchone/scalar keep working

    setattr(execute_query, _MARK, True)
    execute_query.__wrapped__ = original
    SqlAlchemyExecutionEngine.execute_query = execute_query


def is_installed() -> bool:
    from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine

    return bool(getattr(SqlAlchemyExecutionEngine.execute_query, _MARK, False))
