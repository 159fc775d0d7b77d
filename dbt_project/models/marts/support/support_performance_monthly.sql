-- One row per calendar month (UTC) in which tickets were created: volume, speed, quality and
-- satisfaction of the help desk for the tickets created that month. Rates are percents (0-100) of
-- the month's solved tickets (CSAT: of its rated tickets), NULL when there are none.
-- Definitions: DECISIONS.md, "Support metrics".
with tickets as (

    select * from {{ ref('support_tickets') }}

),

monthly as (

    select
        created_month,
        count(*) as tickets,
        sum(case when is_solved then 1 else 0 end) as solved_tickets,
        {{ median('first_reply_minutes') }} as median_first_reply_minutes,
        -- support_tickets keeps full_resolution_minutes for solved tickets only.
        {{ median('full_resolution_minutes') }} as median_full_resolution_minutes,
        sum(case when is_solved and is_reopened then 1 else 0 end) as reopened_tickets,
        sum(case when is_solved and is_one_touch then 1 else 0 end) as one_touch_tickets,
        sum(case when is_solved and was_handed_off then 1 else 0 end) as handed_off_tickets,
        sum(case when is_satisfied is not null then 1 else 0 end) as rated_tickets,
        sum(case when is_satisfied then 1 else 0 end) as satisfied_tickets
    from tickets
    group by created_month

)

select
    created_month,
    tickets,
    solved_tickets,
    median_first_reply_minutes,
    median_full_resolution_minutes,
    reopened_tickets,
    {{ percent('reopened_tickets', 'solved_tickets') }} as reopen_rate,
    one_touch_tickets,
    {{ percent('one_touch_tickets', 'solved_tickets') }} as one_touch_rate,
    handed_off_tickets,
    {{ percent('handed_off_tickets', 'solved_tickets') }} as handoff_rate,
    rated_tickets,
    satisfied_tickets,
    {{ percent('satisfied_tickets', 'rated_tickets') }} as csat
from monthly
