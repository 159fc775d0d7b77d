-- One row per identity signature with its customer and the rule that matched it. Everything
-- int_identity_records_resolved adds to a record depends only on the record's signature, so it is
-- computed and stored here once per signature (3.1M at 1M customers) instead of once per record
-- (9.3M): at 1M, writing the per-record table was about 15 s of the 24 s its CREATE TABLE AS took
-- (docs/BENCHMARKS.md).
with signature_identifiers as (

    select * from {{ ref('int_identity_record_identifiers') }}

),

clustered as (

    select
        si.*,
        c.cluster_label,
        -- How many records carry this identifier: shared ones are what links records together.
        sum(si.records) over (partition by si.identifier) as records_with_identifier
    from signature_identifiers as si
    inner join {{ ref('int_identifiers_clustered') }} as c
        on si.identifier = c.identifier

),

per_signature as (

    select
        identity_signature,
        min(cluster_label) as cluster_label,
        -- The strongest identifier this record shares with another record (crm id > email > phone ...).
        min(case when records_with_identifier > 1 then kind_priority end) as matched_priority
    from clustered
    group by identity_signature

)

select
    identity_signature,
    case when cluster_label is not null then {{ surrogate_key(['cluster_label']) }} end as customer_id,
    case
        when matched_priority = 1 then 'crm_id'
        when matched_priority = 2 then 'email'
        when matched_priority = 3 then 'phone'
        when matched_priority = 4 then 'helpdesk_user'
        when matched_priority = 5 then 'order_ref'
        when matched_priority = 6 then 'ticket_ref'
        else 'single_record'
    end as match_rule,
    cluster_label
from per_signature
