-- Shares add up: under each attribution model every customer with an order is attributed exactly
-- once, and so is their revenue (to the cent).
{{ config(meta={'dagster': {'ref': {'name': 'marketing_attribution'}}}) }}
with customers as (

    select count(*) as new_customers, coalesce(sum(revenue), 0) as revenue
    from {{ ref('customer_360') }}
    where orders > 0

),

attributed as (

    select
        models.attribution_model,
        coalesce(sum(attribution.new_customers), 0) as new_customers,
        coalesce(sum(attribution.attributed_revenue), 0) as revenue
    from (
        select 'first_touch' as attribution_model
        union all
        select 'last_touch' as attribution_model
    ) as models
    left join {{ ref('marketing_attribution') }} as attribution
        on models.attribution_model = attribution.attribution_model
    group by models.attribution_model

)

select
    attributed.attribution_model,
    attributed.new_customers as attributed_customers,
    customers.new_customers as customers_with_orders,
    attributed.revenue as attributed_revenue,
    customers.revenue as customer_revenue
from attributed
cross join customers
where
    attributed.new_customers <> customers.new_customers
    or abs(attributed.revenue - customers.revenue) > 0.005
