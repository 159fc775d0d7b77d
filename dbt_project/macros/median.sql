{#- The median of a column within a group, written once per engine. NULLs are ignored; an empty
    group gives NULL. Exact on DuckDB and Postgres-like engines; Spark's percentile() is exact too. -#}
{% macro median(column) -%}
    {{ return(adapter.dispatch('median', 'cx_warehouse')(column)) }}
{%- endmacro %}

{% macro default__median(column) -%}
    percentile_cont(0.5) within group (order by {{ column }})
{%- endmacro %}

{% macro duckdb__median(column) -%}
    median({{ column }})
{%- endmacro %}

{#- percentile() is exact (interpolating like percentile_cont) but keeps every value in memory;
    percentile_approx(x, 0.5) is the cheaper choice for very large groups. -#}
{% macro spark__median(column) -%}
    percentile({{ column }}, 0.5)
{%- endmacro %}
