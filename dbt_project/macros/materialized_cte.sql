{#- Ask the engine to compute a CTE once when it is read several times (the unrolled label
    propagation reads each round twice). DuckDB takes the hint; other engines ignore it. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'cx_warehouse')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}{%- endmacro %}

{% macro duckdb__materialized_cte() -%}materialized{%- endmacro %}

{#- The opposite: read the CTE's source again at each use instead of storing its rows. DuckDB stores
    a CTE that is read more than once; when the CTE is a plain filter of a table, scanning the table
    twice is cheaper than storing millions of rows (customer_360 at 1M: 14 s -> 10 s). -#}
{% macro inlined_cte() -%}
    {{ return(adapter.dispatch('inlined_cte', 'cx_warehouse')()) }}
{%- endmacro %}

{% macro default__inlined_cte() -%}{%- endmacro %}

{% macro duckdb__inlined_cte() -%}not materialized{%- endmacro %}
