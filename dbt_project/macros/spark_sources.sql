{#- On Spark, register every dbt source (raw.*, ops.*) as a table over Parquet files, when the var
    `spark_raw_parquet_dir` names a folder holding `<schema>/<table>/` (or `<schema>/<table>.parquet`).
    This is how the same project builds on Spark from an export of the DuckDB warehouse
    (docs/SPARK.md, tests/test_spark_portability.py). Elsewhere, and without the var, it does nothing:
    on a real Spark deployment the raw tables come from your own ingestion. -#}
{% macro register_spark_sources() %}
    {%- set folder = var('spark_raw_parquet_dir', none) -%}
    {%- if execute and target.type == 'spark' and folder -%}
        {%- set schemas = [] -%}
        {%- for source in graph.sources.values() -%}
            {%- if source.schema not in schemas -%}
                {%- do schemas.append(source.schema) -%}
                {%- do run_query('create database if not exists ' ~ adapter.quote(source.schema)) -%}
            {%- endif -%}
            {%- set location = folder ~ '/' ~ source.schema ~ '/' ~ source.identifier -%}
            {%- do run_query('create table if not exists ' ~ adapter.quote(source.schema) ~ '.'
                             ~ adapter.quote(source.identifier) ~ ' using parquet location '
                             ~ dbt.string_literal(location)) -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
