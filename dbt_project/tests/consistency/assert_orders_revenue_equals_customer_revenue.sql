-- Revenue adds up: the orders mart and customer_360 agree to the cent.
{{ config(meta={'dagster': {'ref': {'name': 'customer_360'}}}) }}
select
    (select sum(amount) from {{ ref('orders') }}) as orders_revenue,
    (select sum(revenue) from {{ ref('customer_360') }}) as customer_revenue
where abs(
    coalesce((select sum(amount) from {{ ref('orders') }}), 0)
    - coalesce((select sum(revenue) from {{ ref('customer_360') }}), 0)
) > 0.005
