"""The one place where Great Expectations is patched: to run on DuckDB, and to render Data Docs faster.

GX 1.24's `SqlAlchemyExecutionEngine.execute_query` runs a query inside `with self.get_connection()`
and returns the live result after the block has closed the connection. Closing rolls the implicit
transaction back and duckdb-engine then drops the pending rows, so callers see no rows: every metric
fails with `list index out of range`, or worse, a missing unexpected count silently reads as 0.
The fix buffers the rows (`result.freeze()`) while the connection is still open.

tests/test_gx_duckdb_shim.py fails if a GX upgrade changes the method this replaces, and its canary
fails once upstream fixes the bug, so the patch can be removed.

Data Docs: GX builds a new jinja Environment for every view it renders, so every validation compiled
the same ~50 templates again: 0.85 s of the 4.5 s it took to validate the 100k-customer sample, more
than the checks' own queries. `install()` gives those environments one compiled-template cache for
the process (jinja's own BytecodeCache hook); the pages are the same.
"""

from __future__ import annotations

_MARK = "_cxw_duckdb_shim"


def install() -> None:
    """Patch GX once per process; calling again does nothing."""
    _install_template_cache()
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


class _TemplateCache:
    """Compiled jinja templates by jinja's bucket key (template name + source checksum), for the process."""

    def __init__(self) -> None:
        import jinja2

        class Cache(jinja2.BytecodeCache):
            def __init__(self) -> None:
                self.code: dict[str, object] = {}
                self.hits = 0

            def load_bytecode(self, bucket) -> None:
                code = self.code.get(bucket.key)
                if code is not None:
                    bucket.code = code
                    self.hits += 1

            def dump_bytecode(self, bucket) -> None:
                self.code[bucket.key] = bucket.code

        self.cache = Cache()


TEMPLATE_CACHE: _TemplateCache | None = None


def _install_template_cache() -> None:
    global TEMPLATE_CACHE
    from great_expectations.render.view.view import DefaultJinjaView

    original = DefaultJinjaView.__init__
    if getattr(original, _MARK, False):
        return
    TEMPLATE_CACHE = _TemplateCache()

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.env.bytecode_cache is None:
            self.env.bytecode_cache = TEMPLATE_CACHE.cache

    setattr(__init__, _MARK, True)
    __init__.__wrapped__ = original
    DefaultJinjaView.__init__ = __init__
