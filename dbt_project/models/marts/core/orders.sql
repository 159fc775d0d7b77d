-- Orders are the CRM's Closed Won deals.
with deals as (

    select * from {{ ref('stg_crm__deals') }}
    where is_won

),

identity as (

    select record_key, customer_id
    from {{ ref('int_identity_records_resolved') }}
    where source_entity = 'crm_deals'

),

orders as (

    select
        deals.deal_id as order_id,
        identity.customer_id,
        deals.contact_id,
        deals.deal_name as order_name,
        coalesce(deals.amount, 0) as amount,
        coalesce(deals.closed_at, deals.created_at) as ordered_at
    from deals
    left join identity
        on cast(deals.deal_id as {{ dbt.type_string() }}) = identity.record_key

)

select
    order_id,
    customer_id,
    contact_id,
    order_name,
    amount,
    ordered_at,
    {{ month_start('ordered_at') }} as order_month,
    row_number() over (partition by customer_id order by ordered_at, order_id) as customer_order_number
from orders
