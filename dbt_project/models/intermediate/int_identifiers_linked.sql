-- The identifier graph: nodes are identifiers (email, phone, CRM id, help-desk user id, record
-- references), and two identifiers are linked when one source record carries both. Each identity
-- signature links its identifiers to its strongest one (a star), which keeps the graph small and
-- connected the same way.
with record_identifiers as (

    select * from {{ ref('int_identity_record_identifiers') }}

),

-- An email or phone carried by several distinct CRM contacts (a shared inbox, a switchboard
-- number) does not identify one person; it is not used for matching.
shared_identifiers as (

    select ri.identifier
    from record_identifiers as ri
    inner join {{ ref('int_identity_signatures') }} as s
        on ri.identity_signature = s.identity_signature
    where
        ri.identifier_kind in ('email', 'phone')
        and s.crm_contact_id is not null
    group by ri.identifier
    having count(distinct s.crm_contact_id) > {{ var('identity_max_contacts_per_identifier') }}

),

usable as (

    select ri.*
    from record_identifiers as ri
    left join shared_identifiers as s
        on ri.identifier = s.identifier
    where s.identifier is null

),

anchored as (

    select
        usable.*,
        first_value(usable.identifier) over (
            partition by usable.identity_signature order by usable.kind_priority, usable.identifier
        ) as anchor_identifier
    from usable

)

select distinct
    anchor_identifier as identifier_a,
    identifier as identifier_b
from anchored
