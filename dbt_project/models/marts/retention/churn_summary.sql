-- Logo churn to date, overall and by contract type and acquisition channel: of the paying
-- customers, the share that churned. Works for exports without dates too (a churn flag per
-- customer, as in a subscription export), where a monthly churn rate cannot be computed.
with customers as (

    select
        coalesce(contract_type, 'unknown') as contract_type,
        acquisition_channel,
        is_churned
    from {{ ref('customer_360') }}
    where is_paying_customer

),

counted as (

    select
        case
            when grouping(contract_type) = 0 then 'contract_type'
            when grouping(acquisition_channel) = 0 then 'acquisition_channel'
            else 'all'
        end as dimension,
        coalesce(contract_type, acquisition_channel, 'all') as dimension_value,
        count(*) as paying_customers,
        sum(case when is_churned then 1 else 0 end) as churned_customers
    from customers
    group by grouping sets ((), (contract_type), (acquisition_channel))

)

select
    dimension,
    dimension_value,
    paying_customers,
    churned_customers,
    {{ percent('churned_customers', 'paying_customers') }} as churn_rate
from counted
