-- One row per acquisition cohort (calendar month of the first order, UTC) and month since
-- acquisition (0 = the acquisition month) up to the as-of month: the revenue the cohort's
-- customers paid in that month and up to its end, and that cumulative revenue per customer
-- (cumulative lifetime value). Definitions: DECISIONS.md, "Churn and retention".
with customers as (

    select
        customer_id,
        {{ month_start('first_order_at') }} as cohort_month
    from {{ ref('customer_360') }}
    where orders > 0

),

cohorts as (

    select cohort_month, count(*) as cohort_customers
    from customers
    group by cohort_month

),

cohort_revenue as (

    select
        customers.cohort_month,
        orders.order_month,
        sum(orders.amount) as revenue
    from {{ ref('orders') }} as orders
    inner join customers
        on orders.customer_id = customers.customer_id
    group by customers.cohort_month, orders.order_month

),

months as (

    {{ month_spine('(select min(cohort_month) from customers)', as_of_timestamp()) }}

),

cohort_months as (

    select
        cohorts.cohort_month,
        cohorts.cohort_customers,
        months.calendar_month,
        coalesce(cohort_revenue.revenue, 0) as revenue_in_month
    from cohorts
    inner join months
        on cohorts.cohort_month <= months.calendar_month
    left join cohort_revenue
        on
            cohorts.cohort_month = cohort_revenue.cohort_month
            and months.calendar_month = cohort_revenue.order_month

),

cumulated as (

    select
        *,
        sum(revenue_in_month) over (
            partition by cohort_month
            order by calendar_month
            rows between unbounded preceding and current row
        ) as cumulative_revenue
    from cohort_months

)

select
    cohort_month,
    {{ dbt.datediff('cohort_month', 'calendar_month', 'month') }}
        as months_since_acquisition,
    calendar_month,
    cohort_customers,
    revenue_in_month,
    cumulative_revenue,
    1.0 * cumulative_revenue / cohort_customers as cumulative_revenue_per_customer
from cumulated
