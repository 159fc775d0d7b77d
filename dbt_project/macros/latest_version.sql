{#- Keep one row per key: the latest version across successive exports.
    Written with row_number() in a subquery rather than QUALIFY so it also runs on Spark. -#}
{% macro latest_version(relation, partition_by, order_by) -%}
    select * from (
        select
            versions.*,
            row_number() over (
                partition by {{ partition_by | join(', ') }}
                order by {{ order_by | join(', ') }}
            ) as version_rank
        from {{ relation }} as versions
    ) as ranked
    where version_rank = 1
{%- endmacro %}
