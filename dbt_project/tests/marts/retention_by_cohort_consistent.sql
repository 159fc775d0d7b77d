-- Retention never rises (churn is final), stays within the cohort, and cohort sizes are the
-- new customers churn_monthly counts in the cohort month.
{{ config(meta={'dagster': {'ref': {'name': 'retention_by_cohort'}}}) }}
with cohort_months as (

    select
        cohort_month,
        months_since_acquisition,
        cohort_customers,
        retained_customers,
        lag(retained_customers) over (
            partition by cohort_month order by months_since_acquisition
        ) as previous_retained
    from {{ ref('retention_by_cohort') }}

)

select
    cohort_months.cohort_month,
    cohort_months.months_since_acquisition,
    'retention rises or leaves the cohort' as problem
from cohort_months
where
    cohort_months.retained_customers > cohort_months.previous_retained
    or cohort_months.retained_customers > cohort_months.cohort_customers
    or cohort_months.retained_customers < 0

union all

select
    cohort_months.cohort_month,
    cohort_months.months_since_acquisition,
    'cohort size differs from churn_monthly.new_customers' as problem
from cohort_months
inner join {{ ref('churn_monthly') }} as churn
    on cohort_months.cohort_month = churn.calendar_month
where
    cohort_months.months_since_acquisition = 0
    and cohort_months.cohort_customers <> churn.new_customers
