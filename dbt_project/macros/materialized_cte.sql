{#- Ask the engine to compute a CTE once when it is read several times (the unrolled label
    propagation reads each round twice). DuckDB takes the hint; other engines ignore it. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'cx_warehouse')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}{%- endmacro %}

{% macro duckdb__materialized_cte() -%}materialized{%- endmacro %}
