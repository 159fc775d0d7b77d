{{
    config(
        materialized=incremental_or_table(),
        unique_key='response_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_rows_of_invisible_loads() }}"
    )
}}
with source as (

    {{ visible_rows_to_stage(source('survey', 'survey_responses'), 'response_id') }}

),

renamed as (

    select
        -- ids
        trim(response_id) as response_id,
        nullif(trim(external_reference), '') as respondent_crm_contact_id,
        nullif(trim(order_reference), '') as order_id,
        nullif(trim(ticket_reference), '') as ticket_id,

        -- strings
        {{ normalize_email('recipient_email') }} as respondent_email,
        lower(nullif(trim(distribution_channel), '')) as distribution_channel,
        lower(nullif(trim(survey_trigger), '')) as survey_trigger,
        nullif(trim(comment), '') as comment,

        -- numerics (scores as answered; NULL when the question was skipped)
        nps_score,
        csat_score,
        ces_score,
        progress,

        -- booleans
        is_finished,

        -- timestamps (UTC)
        started_at,
        recorded_at,

        -- lineage
        _load_id,
        _source_file,
        _source_row

    from source

),

deduplicated as (

    {{ latest_version('renamed', ['response_id'], ['_load_id desc', '_source_row desc']) }}

)

select
    response_id,
    respondent_crm_contact_id,
    order_id,
    ticket_id,
    respondent_email,
    distribution_channel,
    survey_trigger,
    comment,
    nps_score,
    case
        when nps_score >= 9 then 'promoter'
        when nps_score >= 7 then 'passive'
        when nps_score >= 0 then 'detractor'
    end as nps_category,
    csat_score,
    case when csat_score is not null then csat_score >= {{ var('csat_satisfied_min_score') }} end as is_csat_satisfied,
    ces_score,
    case when ces_score is not null then ces_score >= {{ var('ces_easy_min_score') }} end as is_ces_easy,
    progress,
    is_finished,
    started_at,
    recorded_at,
    _load_id,
    _source_file,
    _source_row
from deduplicated
