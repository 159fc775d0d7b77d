-- One row per distinct set of identifiers carried by some records, with how many records carry it.
-- The identifier graph is built over these signatures rather than over every record.
select
    identity_signature,
    min(email) as email,
    min(phone) as phone,
    min(crm_contact_id) as crm_contact_id,
    min(helpdesk_user_id) as helpdesk_user_id,
    min(crm_secondary_id) as crm_secondary_id,
    min(order_ref) as order_ref,
    min(ticket_ref) as ticket_ref,
    count(*) as records
from {{ ref('int_identity_records_unioned') }}
group by identity_signature
