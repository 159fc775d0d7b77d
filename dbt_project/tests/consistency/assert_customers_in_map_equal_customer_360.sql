-- The customers in the identity map are exactly the customers in customer_360.
{{ config(meta={'dagster': {'ref': {'name': 'customer_360'}}}) }}
with mapped as (
    select distinct customer_id
    from {{ ref('customer_identity_map') }}
    where customer_id is not null
),

customers as (
    select customer_id from {{ ref('customer_360') }}
)

select
    mapped.customer_id as only_in_map,
    customers.customer_id as only_in_360
from mapped
full outer join customers
    on mapped.customer_id = customers.customer_id
where mapped.customer_id is null or customers.customer_id is null
