-- One row per identity-carrying source record: which customer it belongs to and why.
select
    record_id,
    customer_id,
    source_system,
    source_entity,
    record_key,
    match_rule,
    email,
    phone,
    crm_contact_id,
    helpdesk_user_id,
    record_at
from {{ ref('int_identity_records_resolved') }}
