{{
    config(
        materialized=incremental_or_table(),
        unique_key='session_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_rows_of_invisible_loads() }}"
    )
}}
-- Web sessions with UTM parameters. Paid-medium sessions are the ad clicks.
-- A table, incremental: one of the two largest exports, read by several models in every run; a run
-- deduplicates again only the sessions that a new load carries (macros/incremental.sql).
with source as (

    {{ visible_rows_to_stage(source('marketing', 'marketing_web_sessions'), 'session_id') }}

),

renamed as (

    select
        -- ids
        trim(session_id) as session_id,
        nullif(trim(client_id), '') as client_id,
        nullif(trim(user_id), '') as user_crm_contact_id,

        -- strings
        {{ normalize_email('user_email') }} as user_email,
        lower(nullif(trim(utm_source), '')) as utm_source,
        lower(nullif(trim(utm_medium), '')) as utm_medium,
        nullif(trim(utm_campaign), '') as utm_campaign,
        nullif(trim(landing_page), '') as landing_page,

        -- numerics
        coalesce(pageviews, 0) as pageviews,
        coalesce(conversions, 0) as conversions,

        -- booleans
        coalesce(is_engaged, false) as is_engaged,

        -- timestamps (UTC)
        started_at,

        -- lineage
        _load_id,
        _source_file,
        _source_row

    from source

),

deduplicated as (

    {{ latest_version('renamed', ['session_id'], ['_load_id desc', '_source_row desc']) }}

)

select
    session_id,
    client_id,
    user_crm_contact_id,
    user_email,
    utm_source,
    utm_medium,
    utm_campaign,
    landing_page,
    pageviews,
    conversions,
    is_engaged,
    coalesce(utm_medium in ('cpc', 'ppc', 'paid_social', 'paid_search', 'display'), false) as is_paid,
    started_at,
    _load_id,
    _source_file,
    _source_row
from deduplicated
