-- One row per calendar day (UTC) from the day the first ticket was created to the as-of day: tickets
-- created and solved that day and the open backlog at the end of it (created on or before the day
-- and not solved by its end). A reopened ticket counts as solved on its latest solve.
with tickets as (

    select
        cast(created_at as date) as created_date,
        -- A solve cannot precede the creation; a solved ticket without a solve time is dated by
        -- its resolution time, else by its creation (DECISIONS.md).
        cast(
            case
                when not is_solved then null
                when solved_at >= created_at then solved_at
                when solved_at is not null then created_at
                when full_resolution_minutes is not null
                    then {{ dbt.dateadd('minute', 'full_resolution_minutes', 'created_at') }}
                else created_at
            end as date
        ) as solved_date
    from {{ ref('support_tickets') }}

),

days as (

    {{ date_spine('(select min(created_date) from tickets)', as_of_timestamp()) }}

),

created as (

    select created_date as calendar_date, count(*) as tickets_created
    from tickets
    group by created_date

),

solved as (

    select solved_date as calendar_date, count(*) as tickets_solved
    from tickets
    where solved_date is not null
    group by solved_date

),

daily as (

    select
        days.date_day as calendar_date,
        coalesce(created.tickets_created, 0) as tickets_created,
        coalesce(solved.tickets_solved, 0) as tickets_solved
    from days
    left join created on days.date_day = created.calendar_date
    left join solved on days.date_day = solved.calendar_date

)

select
    calendar_date,
    tickets_created,
    tickets_solved,
    -- Every ticket is created on or after the first day of the spine and solved on or after its
    -- creation, so the running difference is the number of tickets open at the end of the day.
    sum(tickets_created - tickets_solved) over (
        order by calendar_date rows between unbounded preceding and current row
    ) as open_backlog
from daily
