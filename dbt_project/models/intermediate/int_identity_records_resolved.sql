-- Every identity-carrying source record with its customer and the rule that matched it.
-- A view: the customer and the rule are the record's signature's (int_identity_signatures_resolved),
-- and joining 9.3M records to them costs each reader about a second at 1M, where storing the result
-- cost 22 s per build.
{{ config(materialized='view') }}
select
    records.record_id,
    signatures.customer_id,
    records.source_system,
    records.source_entity,
    records.record_key,
    records.email,
    records.phone,
    records.crm_contact_id,
    records.helpdesk_user_id,
    records.record_at,
    -- A record whose identifiers were all unusable has no signature row, hence no customer.
    coalesce(signatures.match_rule, 'unresolved') as match_rule,
    signatures.cluster_label
from {{ ref('int_identity_records_unioned') }} as records
left join {{ ref('int_identity_signatures_resolved') }} as signatures
    on records.identity_signature = signatures.identity_signature
