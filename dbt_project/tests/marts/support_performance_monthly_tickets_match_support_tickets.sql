-- Consistency: every ticket of the support mart is counted once, in its creation month.
{{ config(meta={'dagster': {'ref': {'name': 'support_performance_monthly'}}}) }}
select
    (select sum(tickets) from {{ ref('support_performance_monthly') }}) as tickets_in_monthly,
    (select count(*) from {{ ref('support_tickets') }}) as tickets_in_mart
where
    coalesce((select sum(tickets) from {{ ref('support_performance_monthly') }}), 0)
    <> (select count(*) from {{ ref('support_tickets') }})
