-- One row per agent (the ticket's current assignee) and calendar month (UTC) in which the agent had
-- tickets assigned, solved or still open at the month's end; unassigned tickets form one more
-- "agent" (assignee_id NULL). A ticket counts as assigned in the month it was created and as solved
-- in the month of its (latest) solve; first replies by creation month, resolution, reopens and
-- CSAT by solve month. Definitions: DECISIONS.md, "Support metrics".
with support_tickets as (

    select
        *,
        coalesce(cast(assignee_id as {{ dbt.type_string() }}), '(unassigned)') as agent_key,
        -- When the ticket counts as solved: as in support_backlog_daily (DECISIONS.md).
        case
            when not is_solved then null
            when solved_at >= created_at then solved_at
            when solved_at is not null then created_at
            when full_resolution_minutes is not null
                then {{ dbt.dateadd('minute', 'full_resolution_minutes', 'created_at') }}
            else created_at
        end as counted_solved_at
    from {{ ref('support_tickets') }}

),

tickets as (

    select
        agent_key,
        created_month,
        {{ month_start('counted_solved_at') }} as solved_month,
        first_reply_minutes,
        full_resolution_minutes,
        is_reopened,
        is_satisfied
    from support_tickets

),

-- The agent's name as on their most recently created ticket (names can change).
agents as (

    select agent_key, assignee_id, agent_name, first_month
    from (
        select
            agent_key,
            assignee_id,
            agent_name,
            min(created_month) over (partition by agent_key) as first_month,
            row_number() over (partition by agent_key order by created_at desc, ticket_id desc) as name_rank
        from support_tickets
    ) as named
    where name_rank = 1

),

months as (

    {{ month_spine('(select min(created_month) from tickets)', as_of_timestamp()) }}

),

agent_months as (

    select
        agents.agent_key,
        agents.assignee_id,
        agents.agent_name,
        months.calendar_month
    from agents
    inner join months
        on agents.first_month <= months.calendar_month

),

assigned as (

    select
        agent_key,
        created_month as calendar_month,
        count(*) as tickets_assigned,
        {{ median('first_reply_minutes') }} as median_first_reply_minutes
    from tickets
    group by agent_key, created_month

),

solved as (

    select
        agent_key,
        solved_month as calendar_month,
        count(*) as tickets_solved,
        {{ median('full_resolution_minutes') }} as median_full_resolution_minutes,
        sum(case when is_reopened then 1 else 0 end) as reopened_tickets,
        sum(case when is_satisfied is not null then 1 else 0 end) as rated_tickets,
        sum(case when is_satisfied then 1 else 0 end) as satisfied_tickets
    from tickets
    where solved_month is not null
    group by agent_key, solved_month

),

joined as (

    select
        agent_months.agent_key,
        agent_months.assignee_id,
        agent_months.agent_name,
        agent_months.calendar_month,
        coalesce(assigned.tickets_assigned, 0) as tickets_assigned,
        coalesce(solved.tickets_solved, 0) as tickets_solved,
        -- Assigned so far minus solved so far: tickets solve in or after their creation month.
        sum(coalesce(assigned.tickets_assigned, 0) - coalesce(solved.tickets_solved, 0)) over (
            partition by agent_months.agent_key
            order by agent_months.calendar_month
            rows between unbounded preceding and current row
        ) as open_tickets_at_month_end,
        assigned.median_first_reply_minutes,
        solved.median_full_resolution_minutes,
        coalesce(solved.reopened_tickets, 0) as reopened_tickets,
        coalesce(solved.rated_tickets, 0) as rated_tickets,
        coalesce(solved.satisfied_tickets, 0) as satisfied_tickets
    from agent_months
    left join assigned
        on
            agent_months.agent_key = assigned.agent_key
            and agent_months.calendar_month = assigned.calendar_month
    left join solved
        on
            agent_months.agent_key = solved.agent_key
            and agent_months.calendar_month = solved.calendar_month

)

select
    {{ surrogate_key(['agent_key', 'calendar_month']) }} as agent_month_id,
    assignee_id,
    agent_name,
    calendar_month,
    tickets_assigned,
    tickets_solved,
    open_tickets_at_month_end,
    median_first_reply_minutes,
    median_full_resolution_minutes,
    reopened_tickets,
    {{ percent('reopened_tickets', 'tickets_solved') }} as reopen_rate,
    rated_tickets,
    satisfied_tickets,
    {{ percent('satisfied_tickets', 'rated_tickets') }} as csat
from joined
-- Months in which the agent had nothing assigned, solved or open are left out.
where tickets_assigned > 0 or tickets_solved > 0 or open_tickets_at_month_end > 0
