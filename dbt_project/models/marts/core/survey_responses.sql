-- Survey responses with the customer who gave them and the NPS category of the answer.
with responses as (

    select * from {{ ref('stg_survey__responses') }}

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
    responses.nps_score,
    responses.nps_category,
    responses.csat_score,
    responses.is_csat_satisfied,
    responses.ces_score,
    responses.is_ces_easy,
    responses.comment
from responses
left join identity
    on responses.response_id = identity.record_key
