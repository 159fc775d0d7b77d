{{
    config(
        materialized=incremental_or_table(),
        unique_key=['source_entity', 'record_key'],
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook=["{{ delete_rows_of_invisible_loads() }}",
                   "{{ delete_incremental_rows_where('occurred_at is null') }}"]
    )
}}
-- depends_on: {{ ref('stg_ops__loads') }}
-- depends_on: {{ ref('stg_ops__superseded_records') }}
-- Every interaction from every source system as one row: the omnichannel journey of each customer.
-- Anonymous interactions (a web session nobody logged into) keep a NULL customer_id.
-- Incremental: a run recomputes only the records that changed (macros/incremental.sql), replacing
-- all of a changed record's touchpoints: a reopened ticket loses its ticket_solved touchpoint.
-- A record can have no touchpoint at all (a contact without a create date): such an affected record
-- gets a placeholder row without a date, so that delete+insert removes its old touchpoints; the
-- post-hook deletes the placeholders. The records of a superseded load are recomputed too: their
-- earlier version may be back (stg_ops__superseded_records, macros/incremental.sql).
{%- set text = dbt.type_string() -%}
{%- set sources = {
    'crm_contacts': {'model': ref('stg_crm__contacts'), 'key': 'cast(contact_id as ' ~ text ~ ')'},
    'crm_deals': {'model': ref('stg_crm__deals'), 'key': 'cast(deal_id as ' ~ text ~ ')'},
    'support_tickets': {'model': ref('stg_support__tickets'), 'key': 'cast(ticket_id as ' ~ text ~ ')'},
    'survey_responses': {'model': ref('stg_survey__responses'), 'key': 'response_id'},
    'marketing_email_activity': {'model': ref('stg_marketing__email_activities'), 'key': 'email'},
    'marketing_web_sessions': {'model': ref('stg_marketing__web_sessions'), 'key': 'session_id'},
    'marketing_audience': {'model': ref('stg_marketing__audience_members'), 'key': 'email'},
} %}

with identity as (

    select source_entity, record_key, customer_id
    from {{ ref('int_identity_records_resolved') }}

),
{% if is_incremental() %}
affected as {{ materialized_cte() }} (

    {{ affected_records(sources, ref('int_identity_records_resolved'),
                        superseded_records=ref('stg_ops__superseded_records')) }}

),
{% endif %}

contacts as (

    select
        'crm_contacts' as source_entity,
        cast(contact_id as {{ dbt.type_string() }}) as record_key,
        'contact_created' as touchpoint_type,
        'sales' as channel,
        acquisition_channel as channel_detail,
        'crm' as source_system,
        acquisition_campaign as campaign,
        created_at as occurred_at,
        _load_id
    from {{ ref('stg_crm__contacts') }}
    {% if is_incremental() %}
    where cast(contact_id as {{ dbt.type_string() }}) in (select record_key from affected where source_entity = 'crm_contacts')
    {% endif %}

),

deals_created as (

    select
        'crm_deals' as source_entity,
        cast(deal_id as {{ dbt.type_string() }}) as record_key,
        'deal_created' as touchpoint_type,
        'sales' as channel,
        pipeline as channel_detail,
        'crm' as source_system,
        cast(null as {{ dbt.type_string() }}) as campaign,
        created_at as occurred_at,
        _load_id
    from {{ ref('stg_crm__deals') }}
    {% if is_incremental() %}
    where cast(deal_id as {{ dbt.type_string() }}) in (select record_key from affected where source_entity = 'crm_deals')
    {% endif %}

),

purchases as (

    select
        'crm_deals' as source_entity,
        cast(deal_id as {{ dbt.type_string() }}) as record_key,
        'purchase' as touchpoint_type,
        'sales' as channel,
        pipeline as channel_detail,
        'crm' as source_system,
        cast(null as {{ dbt.type_string() }}) as campaign,
        coalesce(closed_at, created_at) as occurred_at,
        _load_id
    from {{ ref('stg_crm__deals') }}
    where is_won
    {% if is_incremental() %}
    and cast(deal_id as {{ dbt.type_string() }}) in (select record_key from affected where source_entity = 'crm_deals')
    {% endif %}

),

tickets_created as (

    select
        'support_tickets' as source_entity,
        cast(ticket_id as {{ dbt.type_string() }}) as record_key,
        'ticket_created' as touchpoint_type,
        'support' as channel,
        channel as channel_detail,
        'support' as source_system,
        cast(null as {{ dbt.type_string() }}) as campaign,
        created_at as occurred_at,
        _load_id
    from {{ ref('stg_support__tickets') }}
    {% if is_incremental() %}
    where cast(ticket_id as {{ dbt.type_string() }}) in (select record_key from affected where source_entity = 'support_tickets')
    {% endif %}

),

tickets_solved as (

    select
        'support_tickets' as source_entity,
        cast(ticket_id as {{ dbt.type_string() }}) as record_key,
        'ticket_solved' as touchpoint_type,
        'support' as channel,
        channel as channel_detail,
        'support' as source_system,
        cast(null as {{ dbt.type_string() }}) as campaign,
        solved_at as occurred_at,
        _load_id
    from {{ ref('stg_support__tickets') }}
    where is_solved and solved_at is not null
    {% if is_incremental() %}
    and cast(ticket_id as {{ dbt.type_string() }}) in (select record_key from affected where source_entity = 'support_tickets')
    {% endif %}

),

survey_responses as (

    select
        'survey_responses' as source_entity,
        response_id as record_key,
        'survey_response' as touchpoint_type,
        'survey' as channel,
        distribution_channel as channel_detail,
        'survey' as source_system,
        survey_trigger as campaign,
        recorded_at as occurred_at,
        _load_id
    from {{ ref('stg_survey__responses') }}
    {% if is_incremental() %}
    where response_id in (select record_key from affected where source_entity = 'survey_responses')
    {% endif %}

),

email_activities as (

    select
        'marketing_email_activity' as source_entity,
        email as record_key,
        'email_' || action as touchpoint_type,
        'email' as channel,
        action as channel_detail,
        'marketing' as source_system,
        campaign_name as campaign,
        occurred_at,
        _load_id,
        email_activity_id as event_key
    from {{ ref('stg_marketing__email_activities') }}
    {% if is_incremental() %}
    where email in (select record_key from affected where source_entity = 'marketing_email_activity')
    {% endif %}

),

web_sessions as (

    select
        'marketing_web_sessions' as source_entity,
        session_id as record_key,
        case when is_paid then 'ad_click' else 'web_session' end as touchpoint_type,
        case when is_paid then 'paid_ads' else 'web' end as channel,
        coalesce(utm_source, '(direct)') || ' / ' || coalesce(utm_medium, '(none)') as channel_detail,
        'marketing' as source_system,
        utm_campaign as campaign,
        started_at as occurred_at,
        _load_id
    from {{ ref('stg_marketing__web_sessions') }}
    {% if is_incremental() %}
    where session_id in (select record_key from affected where source_entity = 'marketing_web_sessions')
    {% endif %}

),

audience_subscriptions as (

    select
        'marketing_audience' as source_entity,
        email as record_key,
        'email_subscribed' as touchpoint_type,
        'email' as channel,
        status as channel_detail,
        'marketing' as source_system,
        cast(null as {{ dbt.type_string() }}) as campaign,
        subscribed_at as occurred_at,
        _load_id
    from {{ ref('stg_marketing__audience_members') }}
    where subscribed_at is not null
    {% if is_incremental() %}
    and email in (select record_key from affected where source_entity = 'marketing_audience')
    {% endif %}

),


events as (

    {% for cte in ['contacts', 'deals_created', 'purchases', 'tickets_created', 'tickets_solved',
                   'survey_responses', 'web_sessions', 'audience_subscriptions'] %}
    select *, record_key as event_key from {{ cte }}
    union all
    {% endfor %}
    select * from email_activities

){% if is_incremental() %},

-- A placeholder row per affected record, kept only where the record has no dated event left: it
-- makes delete+insert clear the record's old touchpoints, and the post-hook deletes it. Keeping one
-- per affected record (215k at 1M) made the commit 3 s slower: DuckDB pays to delete inserted rows.
placeholders as (

    select
        source_entity,
        record_key,
        cast(null as {{ text }}) as touchpoint_type,
        cast(null as {{ text }}) as channel,
        cast(null as {{ text }}) as channel_detail,
        cast(null as {{ text }}) as source_system,
        cast(null as {{ text }}) as campaign,
        cast(null as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(null as {{ dbt.type_bigint() }}) as _load_id,
        record_key as event_key
    from affected

),

rows_to_write as (

    select *
    from (
        select
            *,
            count(occurred_at) over (partition by source_entity, record_key) as dated_events
        from (
            select * from events
            union all
            select * from placeholders
        ) as candidates
    ) as counted
    where occurred_at is not null or (_load_id is null and dated_events = 0)

){% endif %}

select
    {{ surrogate_key(['events.source_entity', 'events.event_key', 'events.touchpoint_type']) }} as touchpoint_id,
    identity.customer_id,
    events.occurred_at,
    cast(events.occurred_at as date) as occurred_date,
    events.channel,
    events.channel_detail,
    events.source_system,
    events.touchpoint_type,
    events.campaign,
    events.source_entity,
    events.record_key,
    events._load_id
from {% if is_incremental() %}rows_to_write as {% endif %}events
left join identity
    on
        events.source_entity = identity.source_entity
        and events.record_key = identity.record_key
-- An export without dates (a churn file with only a flag) has records but no moments to place.
{% if not is_incremental() %}
where events.occurred_at is not null
{% endif %}
