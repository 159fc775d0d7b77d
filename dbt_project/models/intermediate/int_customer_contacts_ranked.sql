-- CRM contacts per customer, the primary one first (the most recently updated). A person entered
-- twice in the CRM resolves to one customer with two contacts.
with contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

identity as (

    select record_key, customer_id
    from {{ ref('int_identity_records_resolved') }}
    where source_entity = 'crm_contacts'

)

select
    identity.customer_id,
    contacts.*,
    row_number() over (
        partition by identity.customer_id
        order by contacts.updated_at desc nulls last, contacts.created_at desc, contacts.contact_id desc
    ) as contact_rank
from contacts
inner join identity
    on cast(contacts.contact_id as {{ dbt.type_string() }}) = identity.record_key
