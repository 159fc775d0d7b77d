-- The identifiers of every identity signature, one row each, as `<kind>:<value>` nodes of the
-- identifier graph, with the number of records behind the signature. kind_priority orders the kinds
-- from strongest to weakest evidence of a person.
{%- set kinds = [
    ('crm_id', 'crm_contact_id', 1),
    ('crm_id', 'crm_secondary_id', 1),
    ('email', 'email', 2),
    ('phone', 'phone', 3),
    ('helpdesk_user', 'helpdesk_user_id', 4),
    ('order_ref', 'order_ref', 5),
    ('ticket_ref', 'ticket_ref', 6),
] %}

with signatures as (

    select * from {{ ref('int_identity_signatures') }}

)

{% for kind, column, priority in kinds %}
select
    identity_signature,
    records,
    '{{ kind }}' as identifier_kind,
    {{ priority }} as kind_priority,
    '{{ kind }}:' || {{ column }} as identifier
from signatures
where {{ column }} is not null
{% if not loop.last %}union all{% endif %}
{% endfor %}
