-- Counts are not negative, satisfied within rated, reopened within solved, rates are percents.
select *
from {{ ref('support_agent_performance') }}
where
    tickets_assigned < 0
    or tickets_solved < 0
    or open_tickets_at_month_end < 0
    or reopened_tickets > tickets_solved
    or rated_tickets > tickets_solved
    or satisfied_tickets > rated_tickets
    or reopen_rate not between 0 and 100
    or csat not between 0 and 100
