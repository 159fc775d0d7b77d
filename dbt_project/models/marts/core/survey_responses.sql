{{
    config(
        materialized=incremental_or_table(),
        unique_key='response_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_rows_of_invisible_loads() }}"
    )
}}
-- depends_on: {{ ref('stg_ops__loads') }}
-- Survey responses with the customer who gave them and the NPS category of the answer.
-- Incremental: a run recomputes only the responses that changed (macros/incremental.sql).

with
{% if is_incremental() %}
affected as (

    {{ affected_records({'survey_responses': {'model': ref('stg_survey__responses'), 'key': 'response_id'}},
        ref('int_identity_records_resolved'), this_entity="'survey_responses'",
        this_key='existing.response_id') }}

),
{% endif %}

responses as (

    select * from {{ ref('stg_survey__responses') }}
    {% if is_incremental() %}
    where response_id in (select record_key from affected)
    {% endif %}

),

identity as (

    select record_key, customer_id
    from {{ ref('int_identity_records_resolved') }}
    where source_entity = 'survey_responses'

)

select
    responses.response_id,
    identity.customer_id,
    responses.recorded_at,
    {{ month_start('responses.recorded_at') }} as response_month,
    coalesce(responses.distribution_channel, 'unknown') as feedback_channel,
    responses.survey_trigger,
    responses.ticket_id,
    responses.nps_score,
    responses.nps_category,
    responses.csat_score,
    responses.is_csat_satisfied,
    responses.ces_score,
    responses.is_ces_easy,
    responses.comment,
    responses._load_id
from responses
left join identity
    on responses.response_id = identity.record_key
