"""Guards for the one Great Expectations patch (expectations/gx_duckdb.py).

If a GX or duckdb-engine upgrade changes what the patch replaces, these fail; the canary fails once
upstream fixes the bug, so the patch can be removed."""

from __future__ import annotations

import inspect

import duckdb
import pytest
import sqlalchemy as sa

from expectations import gx_duckdb


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "t.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA raw; CREATE TABLE raw.t AS SELECT * FROM (VALUES "
                    "(1, 'a@x.io', 0.5), (2, NULL, 0.7), (3, 'c@x.io', 1.5)) v(id, email, score)")
    return path


def test_patch_is_installed_once_and_wraps_the_method_it_expects():
    from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine as Engine

    gx_duckdb.install()
    first = Engine.execute_query
    gx_duckdb.install()
    assert Engine.execute_query is first and gx_duckdb.is_installed()
    original = first.__wrapped__
    assert list(inspect.signature(original).parameters) == ["self", "query"]
    assert hasattr(Engine, "_execute_query_with_recovery") and hasattr(Engine, "get_connection")


def test_canary_upstream_still_loses_rows_without_the_patch(db):
    """When this fails, GX or duckdb-engine no longer drop results: remove expectations/gx_duckdb.py."""
    from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine as Engine

    gx_duckdb.install()
    engine = Engine(connection_string=f"duckdb:///{db}")
    try:
        query = sa.text("SELECT 1 UNION ALL SELECT 2")
        assert Engine.execute_query.__wrapped__(engine, query).fetchall() == []
        assert Engine.execute_query(engine, query).fetchall() == [(1,), (2,)]
    finally:
        engine.engine.dispose()


def test_expectations_count_unexpected_rows_on_duckdb(db):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    gx_duckdb.install()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_sql("d", connection_string=f"duckdb:///{db}")
    batch = source.add_query_asset("q", query="SELECT * FROM raw.t").add_batch_definition_whole_table("w").get_batch()
    E = gx.expectations
    result = batch.validate(gx.ExpectationSuite(name="s", expectations=[
        E.ExpectTableRowCountToBeBetween(min_value=3, max_value=3),
        E.ExpectColumnValuesToNotBeNull(column="email"),
        E.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
    ]), result_format="SUMMARY")
    by_type = {r.expectation_config.type: r for r in result.results}
    assert by_type["expect_table_row_count_to_be_between"].result["observed_value"] == 3
    assert by_type["expect_column_values_to_not_be_null"].result["unexpected_count"] == 1
    assert by_type["expect_column_values_to_be_between"].result["unexpected_count"] == 1
    source.get_engine().dispose()
    source.get_execution_engine().engine.dispose()


def test_data_docs_views_share_compiled_templates_and_render_the_same():
    """GX builds a jinja Environment per view; the patch gives them one compiled-template cache."""
    import jinja2
    from great_expectations.render.view.view import DefaultJinjaView

    gx_duckdb.install()
    assert gx_duckdb.TEMPLATE_CACHE is not None
    cache = gx_duckdb.TEMPLATE_CACHE.cache
    first, second = DefaultJinjaView(), DefaultJinjaView()
    assert isinstance(first.env, jinja2.Environment) and first.env.bytecode_cache is cache is second.env.bytecode_cache
    hits = cache.hits
    context = {"static_images_dir": "static/images"}
    a = first.env.get_template("favicon.j2").render(context)
    b = second.env.get_template("favicon.j2").render(context)  # a new Environment: compiled code from the cache
    assert cache.hits > hits
    plain = jinja2.Environment(loader=first.env.loader, autoescape=first.env.autoescape)
    assert a == b == plain.get_template("favicon.j2").render(context) and "static/images" in a
