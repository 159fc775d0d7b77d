{{
    config(
        materialized=incremental_or_table(),
        unique_key='email_activity_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_rows_of_invisible_loads() }}"
    )
}}
-- Monthly activity exports overlap by a few days: the same action appears in two files.
-- A table, incremental: the largest export, read by several models in every run. A run deduplicates
-- again only the actions at the moments a new load carries: occurred_at is part of the key and is
-- not rewritten here, so every version of a changed action shares it (macros/incremental.sql).
with source as (

    {{ visible_rows_to_stage(source('marketing', 'marketing_email_activity'), 'occurred_at',
                             trim_key=false, recheck_null_keys=true) }}

),

renamed as (

    select
        -- ids
        trim(campaign_id) as campaign_id,

        -- strings
        {{ normalize_email('email') }} as email,
        nullif(trim(campaign_name), '') as campaign_name,
        lower(trim(action)) as action,
        nullif(trim(url), '') as url,

        -- timestamps (UTC)
        occurred_at,

        -- lineage
        _load_id,
        _source_file,
        _source_row

    from source

),

deduplicated as (

    {{ latest_version('renamed', ['email', 'campaign_id', 'action', 'occurred_at'],
        ['_load_id desc', '_source_row desc']) }}

)

select
    {{ surrogate_key(['email', 'campaign_id', 'action', 'occurred_at']) }} as email_activity_id,
    email,
    campaign_id,
    campaign_name,
    action,
    url,
    occurred_at,
    _load_id,
    _source_file,
    _source_row
from deduplicated
