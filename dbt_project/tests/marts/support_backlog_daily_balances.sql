-- The backlog rolls forward day by day (yesterday's backlog + created - solved), never goes
-- negative, and the days with no gap cover every ticket created up to the as-of day.
{{ config(meta={'dagster': {'ref': {'name': 'support_backlog_daily'}}}) }}
with days as (

    select
        calendar_date,
        tickets_created,
        tickets_solved,
        open_backlog,
        lag(open_backlog) over (order by calendar_date) as previous_backlog,
        lag(calendar_date) over (order by calendar_date) as previous_date
    from {{ ref('support_backlog_daily') }}

)

select
    calendar_date,
    'does not roll forward or is negative' as problem
from days
where
    open_backlog < 0
    or open_backlog <> coalesce(previous_backlog, 0) + tickets_created - tickets_solved
    or previous_date <> cast({{ dbt.dateadd('day', -1, 'calendar_date') }} as date)

union all

select
    max(calendar_date) as calendar_date,
    'created tickets do not match support_tickets' as problem
from {{ ref('support_backlog_daily') }}
having sum(tickets_created) <> (
    select count(*) from {{ ref('support_tickets') }} as tickets
    where cast(tickets.created_at as date) <= (
        select max(backlog.calendar_date) from {{ ref('support_backlog_daily') }} as backlog
    )
)
