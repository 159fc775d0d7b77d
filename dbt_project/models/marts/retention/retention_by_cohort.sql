-- One row per acquisition cohort (calendar month of the first order, UTC) and month since
-- acquisition (0 = the acquisition month) up to the as-of month: how many of the cohort's customers
-- had not churned by the end of that month. Definitions: DECISIONS.md, "Churn and retention".
with customers as (

    select
        {{ month_start('first_order_at') }} as cohort_month,
        -- A cancellation dated before the first order (stale CRM data) counts at the first order.
        {{ month_start('case when churned_at < first_order_at then first_order_at else churned_at end') }}
            as churned_month
    from {{ ref('customer_360') }}
    where orders > 0

),

cohorts as (

    select cohort_month, count(*) as cohort_customers
    from customers
    group by cohort_month

),

months as (

    {{ month_spine('(select min(cohort_month) from customers)', as_of_timestamp()) }}

),

cohort_months as (

    select
        cohorts.cohort_month,
        cohorts.cohort_customers,
        months.calendar_month
    from cohorts
    inner join months
        on cohorts.cohort_month <= months.calendar_month

),

retained as (

    select
        cohort_months.cohort_month,
        cohort_months.calendar_month,
        cohort_months.cohort_customers,
        -- Still a customer at the end of the month: not churned in it or before.
        sum(case
            when customers.churned_month is null or customers.churned_month > cohort_months.calendar_month
                then 1
            else 0
        end) as retained_customers
    from cohort_months
    inner join customers
        on cohort_months.cohort_month = customers.cohort_month
    group by cohort_months.cohort_month, cohort_months.calendar_month, cohort_months.cohort_customers

)

select
    cohort_month,
    {{ dbt.datediff('cohort_month', 'calendar_month', 'month') }}
        as months_since_acquisition,
    calendar_month,
    cohort_customers,
    retained_customers,
    cohort_customers - retained_customers as churned_customers,
    {{ percent('retained_customers', 'cohort_customers') }} as retention_rate
from retained
