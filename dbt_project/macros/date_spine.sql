{#- Calendar spines without dbt_utils and without recursive CTEs or generate_series, so they run on
    any engine: a cross join of 0-9 digit tables numbers the days (or months) and dbt.dateadd turns
    each number into a date. Both take SQL expressions (a literal, a column of a one-row CTE, a
    scalar subquery) and include both ends. Use them as subqueries:
    `from ({{ date_spine("date '2024-01-01'", as_of_timestamp()) }}) as days`. -#}

{#- One row per day, `date_day`, up to 10,000 days (27 years) from the start. -#}
{% macro date_spine(start_date_sql, end_date_sql) -%}
    select date_day
    from (
        select
            cast({{ dbt.dateadd('day', 'thousands.digit * 1000 + hundreds.digit * 100 + tens.digit * 10 + ones.digit',
                                'cast(' ~ start_date_sql ~ ' as date)') }} as date) as date_day
        from {{ spine_digits(['ones', 'tens', 'hundreds', 'thousands']) }}
    ) as days
    where date_day <= cast({{ end_date_sql }} as date)
{%- endmacro %}

{#- One row per calendar month, `calendar_month` (its first day, a DATE), up to 1,000 months. -#}
{% macro month_spine(start_month_sql, end_month_sql) -%}
    select calendar_month
    from (
        select
            {{ month_start(dbt.dateadd('month', 'hundreds.digit * 100 + tens.digit * 10 + ones.digit',
                                       month_start(start_month_sql))) }} as calendar_month
        from {{ spine_digits(['ones', 'tens', 'hundreds']) }}
    ) as months
    where calendar_month <= {{ month_start(end_month_sql) }}
{%- endmacro %}

{#- Cross-joined tables of the digits 0-9, one per place name, each with a `digit` column. -#}
{% macro spine_digits(places) -%}
    {%- for place in places %}
    (
        {% for digit in range(10) -%}
        select {{ digit }} as digit{% if not loop.last %} union all {% endif %}
        {%- endfor %}
    ) as {{ place }}{% if not loop.last %}
    cross join{% endif %}
    {%- endfor %}
{%- endmacro %}
