{#- A stable text key from several columns (md5 of their values joined by '|', NULL as '').
    dbt_utils is not installable offline, so the few helpers we need live here. -#}
{% macro surrogate_key(columns) -%}
    {{ dbt.hash(key_text(columns)) }}
{%- endmacro %}

{#- The text both keys hash: the columns' values joined by '|', NULL as ''. -#}
{% macro key_text(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '')") -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.concat(parts) }}
{%- endmacro %}

{#- An internal join key from several columns: the same md5 as surrogate_key, kept as a number where
    the database has one (DuckDB's md5_number, a 128-bit HUGEINT). Never published. At 1M customers,
    the 9.3M identity records' signature stored as a number instead of 32 hex characters made
    int_identity_records_unioned about 3 s cheaper and the joins on it cheaper (docs/BENCHMARKS.md). -#}
{% macro numeric_key(columns) -%}
    {{ return(adapter.dispatch('numeric_key', 'cx_warehouse')(columns)) }}
{%- endmacro %}

{% macro default__numeric_key(columns) -%}
    {{ surrogate_key(columns) }}
{%- endmacro %}

{% macro duckdb__numeric_key(columns) -%}
    md5_number({{ key_text(columns) }})
{%- endmacro %}
