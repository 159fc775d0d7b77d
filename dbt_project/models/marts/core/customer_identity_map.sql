-- One row per identity-carrying source record: which customer it belongs to and why.
-- A view: the rows are int_identity_records_resolved's, and storing a second copy of ~9M records cost
-- 9-11 s of every build at 1M. The published BI copy still holds it as a table.
{{ config(materialized='view') }}
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
