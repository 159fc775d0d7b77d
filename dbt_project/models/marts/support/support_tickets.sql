{{
    config(
        materialized=incremental_or_table(),
        unique_key='ticket_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_rows_of_invisible_loads() }}"
    )
}}
-- depends_on: {{ ref('stg_ops__loads') }}
-- One row per help-desk ticket (latest version) with its customer and service metrics.
-- Incremental: a run recomputes only the tickets that changed (macros/incremental.sql).
{%- set ticket_key = 'cast(ticket_id as ' ~ dbt.type_string() ~ ')' %}

with
{% if is_incremental() %}
affected as (

    {{ affected_records({'support_tickets': {'model': ref('stg_support__tickets'), 'key': ticket_key}},
        ref('int_identity_records_resolved'), this_entity="'support_tickets'",
        this_key='cast(existing.ticket_id as ' ~ dbt.type_string() ~ ')') }}

),
{% endif %}

tickets as (

    select * from {{ ref('stg_support__tickets') }}
    {% if is_incremental() %}
    where {{ ticket_key }} in (select record_key from affected)
    {% endif %}

),

identity as (

    select record_key, customer_id
    from {{ ref('int_identity_records_resolved') }}
    where source_entity = 'support_tickets'

)

select
    tickets.ticket_id,
    identity.customer_id,
    tickets.requester_id,
    tickets.assignee_id,
    coalesce(tickets.assignee_name, 'unassigned') as agent_name,
    tickets.channel,
    tickets.priority,
    tickets.status,
    tickets.is_solved,
    tickets.created_at,
    {{ month_start('tickets.created_at') }} as created_month,
    tickets.first_reply_at,
    tickets.first_reply_minutes,
    tickets.solved_at,
    case when tickets.is_solved then tickets.full_resolution_minutes end as full_resolution_minutes,
    tickets.reopens,
    tickets.reopens > 0 as is_reopened,
    tickets.replies,
    -- Zendesk's definition: solved with exactly one public agent reply.
    tickets.is_solved and tickets.replies = 1 as is_one_touch,
    tickets.assignee_stations,
    tickets.assignee_stations > 1 as was_handed_off,
    tickets.satisfaction_rating,
    tickets.is_satisfied,
    tickets._load_id
from tickets
left join identity
    on cast(tickets.ticket_id as {{ dbt.type_string() }}) = identity.record_key
