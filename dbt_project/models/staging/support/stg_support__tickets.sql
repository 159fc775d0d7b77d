{{
    config(
        materialized=incremental_or_table(),
        unique_key='ticket_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_rows_of_invisible_loads() }}"
    )
}}
with source as (

    {{ visible_rows_to_stage(source('support', 'support_tickets'), 'ticket_id') }}

),

renamed as (

    select
        -- ids
        trim(ticket_id) as ticket_id,
        nullif(trim(requester_id), '') as requester_id,
        nullif(trim(requester_external_id), '') as requester_crm_contact_id,
        nullif(trim(assignee_id), '') as assignee_id,
        nullif(trim(group_id), '') as group_id,

        -- strings
        {{ normalize_email('requester_email') }} as requester_email,
        {{ normalize_phone('requester_phone') }} as requester_phone,
        nullif(trim(requester_name), '') as requester_name,
        nullif(trim(assignee_name), '') as assignee_name,
        lower(trim(channel)) as channel,
        lower(trim(ticket_type)) as ticket_type,
        lower(trim(priority)) as priority,
        lower(trim(status)) as status,
        lower(trim(satisfaction_score)) as satisfaction_rating,
        nullif(trim(satisfaction_comment), '') as satisfaction_comment,
        subject,

        -- numerics (minutes, calendar time)
        first_reply_minutes,
        first_reply_business_minutes,
        full_resolution_minutes,
        coalesce(reopens, 0) as reopens,
        coalesce(replies, 0) as replies,
        coalesce(assignee_stations, 0) as assignee_stations,
        coalesce(group_stations, 0) as group_stations,

        -- timestamps (UTC)
        created_at,
        updated_at,
        solved_at,

        -- lineage
        _load_id,
        _source_file,
        _source_row

    from source

),

deduplicated as (

    {{ latest_version('renamed', ['ticket_id'],
        ['updated_at desc nulls last', '_load_id desc', '_source_row desc']) }}

)

select
    ticket_id,
    requester_id,
    requester_crm_contact_id,
    requester_email,
    requester_phone,
    requester_name,
    assignee_id,
    assignee_name,
    group_id,
    channel,
    ticket_type,
    priority,
    status,
    status in ('solved', 'closed') as is_solved,
    satisfaction_rating,
    case satisfaction_rating when 'good' then true when 'bad' then false end as is_satisfied,
    satisfaction_comment,
    subject,
    first_reply_minutes,
    first_reply_business_minutes,
    full_resolution_minutes,
    reopens,
    replies,
    assignee_stations,
    group_stations,
    created_at,
    case
        when first_reply_minutes is not null
            then {{ dbt.dateadd('minute', 'first_reply_minutes', 'created_at') }}
    end as first_reply_at,
    updated_at,
    solved_at,
    _load_id,
    _source_file,
    _source_row
from deduplicated
