-- Consistency: per month, the tickets assigned over all agents (and the unassigned row) are the
-- tickets created that month in support_performance_monthly, up to the as-of month.
{{ config(meta={'dagster': {'ref': {'name': 'support_agent_performance'}}}) }}
with agents as (

    select calendar_month, sum(tickets_assigned) as tickets_assigned
    from {{ ref('support_agent_performance') }}
    group by calendar_month

),

monthly as (

    select
        performance.created_month,
        performance.tickets
    from {{ ref('support_performance_monthly') }} as performance
    where performance.created_month <= (
        select max(agent_months.calendar_month) from {{ ref('support_agent_performance') }} as agent_months
    )

)

select
    monthly.created_month,
    monthly.tickets,
    agents.tickets_assigned
from monthly
left join agents
    on monthly.created_month = agents.calendar_month
where monthly.tickets <> coalesce(agents.tickets_assigned, 0)
