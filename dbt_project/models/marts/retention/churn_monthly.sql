-- One row per calendar month (UTC) from the first order to the as-of month: logo churn of paying
-- customers (at least one order). A customer is active from their first order until churned_at
-- (the CRM cancellation, customer_360.churned_at). Definitions: DECISIONS.md, "Churn and retention".
with customers as (

    select
        {{ month_start('first_order_at') }} as first_order_month,
        -- A cancellation dated before the first order (stale CRM data) counts at the first order.
        {{ month_start('case when churned_at < first_order_at then first_order_at else churned_at end') }}
            as churned_month
    from {{ ref('customer_360') }}
    where orders > 0

),

months as (

    {{ month_spine('(select min(first_order_month) from customers)', as_of_timestamp()) }}

),

monthly as (

    select
        months.calendar_month,
        -- First order before the month and not churned before it.
        sum(case
            when
                customers.first_order_month < months.calendar_month
                and (customers.churned_month is null or customers.churned_month >= months.calendar_month)
                then 1
            else 0
        end) as customers_at_start,
        sum(case when customers.first_order_month = months.calendar_month then 1 else 0 end) as new_customers,
        sum(case when customers.churned_month = months.calendar_month then 1 else 0 end) as churned_customers,
        sum(case
            when
                customers.churned_month = months.calendar_month
                and customers.first_order_month = months.calendar_month
                then 1
            else 0
        end) as new_customers_churned
    from months
    cross join customers
    group by months.calendar_month

)

select
    calendar_month,
    customers_at_start,
    new_customers,
    churned_customers,
    new_customers_churned,
    customers_at_start + new_customers - churned_customers as customers_at_end,
    -- Customers won and lost in the same month are not in the denominator, so not in the numerator.
    {{ percent('(churned_customers - new_customers_churned)', 'customers_at_start') }} as churn_rate
from monthly
