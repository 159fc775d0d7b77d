-- Counts nest (solved within created, reopened / one-touch / handed off within solved, satisfied
-- within rated) and every rate is a percent between 0 and 100.
select *
from {{ ref('support_performance_monthly') }}
where
    solved_tickets > tickets
    or reopened_tickets > solved_tickets
    or one_touch_tickets > solved_tickets
    or handed_off_tickets > solved_tickets
    or rated_tickets > tickets
    or satisfied_tickets > rated_tickets
    or reopen_rate not between 0 and 100
    or one_touch_rate not between 0 and 100
    or handoff_rate not between 0 and 100
    or csat not between 0 and 100
    or median_first_reply_minutes < 0
    or median_full_resolution_minutes < 0
