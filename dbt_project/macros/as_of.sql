{#- "Today" for ages, windows and freshness: the `as_of_date` var when set, otherwise the newest
    interaction in the warehouse, so results do not drift when the same data is rebuilt later. -#}
{% macro as_of_timestamp() -%}
    {%- if var('as_of_date') -%}
        cast('{{ var("as_of_date") }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        (select max(occurred_at) from {{ ref('touchpoints') }})
    {%- endif -%}
{%- endmacro %}
