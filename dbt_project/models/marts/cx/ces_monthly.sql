-- Customer Effort Score by month, overall and by feedback channel, segment and journey stage:
-- the mean answer on the 1-7 agreement scale ("... made it easy", 7 = strongly agree) and the %
-- of answers that are "easy" (5-7).
with answers as (

    select
        survey_responses.response_month,
        survey_responses.feedback_channel,
        coalesce(customers.segment, 'unknown') as segment,
        coalesce(customers.journey_stage, 'unknown') as journey_stage,
        survey_responses.ces_score,
        survey_responses.is_ces_easy
    from {{ ref('survey_responses') }} as survey_responses
    left join {{ ref('customer_360') }} as customers
        on survey_responses.customer_id = customers.customer_id
    where survey_responses.ces_score is not null

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
        count(*) as responses,
        sum(ces_score) as score_total,
        sum(case when is_ces_easy then 1 else 0 end) as easy
    from answers
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
    responses,
    easy,
    1.0 * score_total / responses as ces_mean,
    {{ percent('easy', 'responses') }} as ces_easy_pct
from counted
