{#- Identifier normalisation shared by every staging model, so a person's email or phone reads the
    same whichever system wrote it. See DECISIONS.md, "Identity resolution". -#}

{% macro normalize_email(column) -%}
    case
        when lower(trim({{ column }})) like '%_@_%' then lower(trim({{ column }}))
    end
{%- endmacro %}

{#- Digits only, with the default country code added to 10-digit national numbers and a leading
    international 00 dropped; fewer than 10 digits is not a usable phone number. The "(0)" that
    European numbers show between country and area code (+49 (0)30 ...) is not dialled, so it goes. -#}
{% macro normalize_phone(column) -%}
    {%- set digits = cx_warehouse.digits_only("replace(" ~ column ~ ", '(0)', '')") -%}
    case
        when length({{ digits }}) = 10 then '{{ var("default_phone_country_code") }}' || {{ digits }}
        when length({{ digits }}) > 10 and {{ digits }} like '00%' then substr({{ digits }}, 3)
        when length({{ digits }}) > 10 then {{ digits }}
    end
{%- endmacro %}

{% macro digits_only(column) -%}
    {{ return(adapter.dispatch('digits_only', 'cx_warehouse')(column)) }}
{%- endmacro %}

{% macro default__digits_only(column) -%}
    regexp_replace({{ column }}, '[^0-9]', '')
{%- endmacro %}

{#- DuckDB replaces only the first match unless told 'g'. -#}
{% macro duckdb__digits_only(column) -%}
    regexp_replace({{ column }}, '[^0-9]', '', 'g')
{%- endmacro %}

{#- Lower snake case for labels such as "Marketing Qualified Lead" -> marketing_qualified_lead. -#}
{% macro snake_label(column) -%}
    nullif(replace(replace(lower(trim({{ column }})), ' ', '_'), '-', '_'), '')
{%- endmacro %}

{#- First day of the month as a DATE; dbt.date_trunc returns a timestamp on some engines. -#}
{% macro month_start(column) -%}
    cast({{ dbt.date_trunc('month', column) }} as date)
{%- endmacro %}
