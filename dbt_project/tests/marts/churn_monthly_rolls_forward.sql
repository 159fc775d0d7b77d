-- Each month starts with the customers the previous month ended with, months have no gaps, and
-- the churn rate is a percent.
with months as (

    select
        calendar_month,
        customers_at_start,
        customers_at_end,
        churn_rate,
        lag(customers_at_end) over (order by calendar_month) as previous_end,
        lag(calendar_month) over (order by calendar_month) as previous_month
    from {{ ref('churn_monthly') }}

)

select *
from months
where
    customers_at_start <> coalesce(previous_end, 0)
    or previous_month <> {{ month_start(dbt.dateadd('month', -1, 'calendar_month')) }}
    or customers_at_end < 0
    or churn_rate not between 0 and 100
