{#- Models land in plain schemas named after their layer (staging, intermediate, marts), not
    <target>_<layer>, so BI tools and analysts find `marts.customer_360` under one stable name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
