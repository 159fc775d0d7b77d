-- CSAT by month, overall and by feedback channel, segment and journey stage: the % of ratings that
-- are "satisfied". Survey answers count when 4-5 on the 1-5 scale; help-desk ratings when "good"
-- (a "bad" rating counts as a rating, not satisfied). Offered-but-unanswered ratings do not count.
with ratings as (

    select * from {{ ref('csat_ratings') }}

),

enriched as (

    select
        ratings.*,
        coalesce(customers.segment, 'unknown') as segment,
        coalesce(customers.journey_stage, 'unknown') as journey_stage
    from ratings
    left join {{ ref('customer_360') }} as customers
        on ratings.customer_id = customers.customer_id

),

counted as (

    select
        rating_month,
        case
            when grouping(rating_source) = 0 then 'rating_source'
            when grouping(feedback_channel) = 0 then 'feedback_channel'
            when grouping(segment) = 0 then 'segment'
            when grouping(journey_stage) = 0 then 'journey_stage'
            else 'all'
        end as dimension,
        coalesce(rating_source, feedback_channel, segment, journey_stage, 'all') as dimension_value,
        sum(case when is_satisfied then 1 else 0 end) as satisfied,
        count(*) as ratings
    from enriched
    group by grouping sets (
        (rating_month),
        (rating_month, rating_source),
        (rating_month, feedback_channel),
        (rating_month, segment),
        (rating_month, journey_stage)
    )

)

select
    rating_month,
    dimension,
    dimension_value,
    satisfied,
    ratings,
    {{ percent('satisfied', 'ratings') }} as csat
from counted
