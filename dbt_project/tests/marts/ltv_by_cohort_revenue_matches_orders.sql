-- Consistency: in the latest month, the cohorts' cumulative revenue adds up to the amount of all
-- orders of known customers up to the end of that month (to the cent).
{{ config(meta={'dagster': {'ref': {'name': 'ltv_by_cohort'}}}) }}
with latest as (

    select
        max(calendar_month) as calendar_month
    from {{ ref('ltv_by_cohort') }}

),

cohorts as (

    select sum(ltv.cumulative_revenue) as cumulative_revenue
    from {{ ref('ltv_by_cohort') }} as ltv
    inner join latest
        on ltv.calendar_month = latest.calendar_month

),

orders as (

    select coalesce(sum(orders.amount), 0) as revenue
    from {{ ref('orders') }} as orders
    inner join latest
        on orders.order_month <= latest.calendar_month
    where orders.customer_id is not null

)

select
    cohorts.cumulative_revenue,
    orders.revenue
from cohorts
cross join orders
where abs(coalesce(cohorts.cumulative_revenue, 0) - orders.revenue) > 0.005
