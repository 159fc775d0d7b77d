-- Net Promoter Score by month, overall and by feedback channel, customer segment and journey stage.
-- NPS = % promoters (9-10) - % detractors (0-6) of the responses that answered the NPS question.
with responses as (

    select
        survey_responses.response_month,
        survey_responses.feedback_channel,
        coalesce(customers.segment, 'unknown') as segment,
        coalesce(customers.journey_stage, 'unknown') as journey_stage,
        survey_responses.nps_category
    from {{ ref('survey_responses') }} as survey_responses
    left join {{ ref('customer_360') }} as customers
        on survey_responses.customer_id = customers.customer_id
    where survey_responses.nps_score is not null

),

counted as (

    select
        response_month,
        case
            when grouping(feedback_channel) = 0 then 'feedback_channel'
            when grouping(segment) = 0 then 'segment'
            when grouping(journey_stage) = 0 then 'journey_stage'
            else 'all'
        end as dimension,
        coalesce(feedback_channel, segment, journey_stage, 'all') as dimension_value,
        sum(case when nps_category = 'promoter' then 1 else 0 end) as promoters,
        sum(case when nps_category = 'passive' then 1 else 0 end) as passives,
        sum(case when nps_category = 'detractor' then 1 else 0 end) as detractors,
        count(*) as responses
    from responses
    group by grouping sets (
        (response_month),
        (response_month, feedback_channel),
        (response_month, segment),
        (response_month, journey_stage)
    )

)

select
    response_month,
    dimension,
    dimension_value,
    promoters,
    passives,
    detractors,
    responses,
    {{ nps_score('promoters', 'detractors', 'responses') }} as nps,
    {{ nps_margin_of_error('promoters', 'detractors', 'responses') }} as nps_margin_of_error_95
from counted
