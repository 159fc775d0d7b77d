-- One row per CSAT rating, survey answers and help-desk ratings together: the one place the CSAT
-- rules live (DECISIONS.md, "CSAT"), read by csat_monthly and by the semantic layer's `csat` metric.
-- A survey answer of csat_satisfied_min_score (4) or more on 1-5 is satisfied; a ticket rating
-- `good` is satisfied, `bad` is a rating and not satisfied, offered/unoffered are not ratings. A
-- ticket rating belongs to the ticket's solve time (creation time when it has none). A ticket's
-- satisfaction counts once: a survey CSAT answer that names the ticket (Zendesk's ratings feed)
-- replaces the rating embedded in the ticket export.
with survey_ratings as (

    select
        {{ dbt.concat(["'survey:'", 'response_id']) }} as rating_id,
        customer_id,
        recorded_at as rated_at,
        'survey' as rating_source,
        feedback_channel,
        is_csat_satisfied as is_satisfied
    from {{ ref('survey_responses') }}
    where csat_score is not null

),

support_ratings as (

    select
        {{ dbt.concat(["'support:'", 'cast(ticket_id as ' ~ dbt.type_string() ~ ')']) }} as rating_id,
        customer_id,
        coalesce(solved_at, created_at) as rated_at,
        'support' as rating_source,
        coalesce(channel, 'unknown') as feedback_channel,
        is_satisfied
    from {{ ref('support_tickets') }} as tickets
    where
        is_satisfied is not null
        and not exists (
            select 1
            from {{ ref('survey_responses') }} as rated
            where
                rated.csat_score is not null
                and rated.ticket_id = cast(tickets.ticket_id as {{ dbt.type_string() }})
        )

),

ratings as (

    select * from survey_ratings
    union all
    select * from support_ratings

)

select
    rating_id,
    customer_id,
    rated_at,
    {{ month_start('rated_at') }} as rating_month,
    rating_source,
    feedback_channel,
    is_satisfied
from ratings
