-- The identifiers of every identity record, one row each, as `<kind>:<value>` nodes of the
-- identifier graph. kind_priority orders the kinds from strongest to weakest evidence of a person.
{%- set kinds = [
    ('crm_id', 'crm_contact_id', 1),
    ('crm_id', 'crm_secondary_id', 1),
    ('email', 'email', 2),
    ('phone', 'phone', 3),
    ('helpdesk_user', 'helpdesk_user_id', 4),
    ('order_ref', 'order_ref', 5),
    ('ticket_ref', 'ticket_ref', 6),
] %}

with records as (

    select * from {{ ref('int_identity_records_unioned') }}

)

{% for kind, column, priority in kinds %}
select
    record_id,
    '{{ kind }}' as identifier_kind,
    {{ priority }} as kind_priority,
    '{{ kind }}:' || {{ column }} as identifier
from records
where {{ column }} is not null
{% if not loop.last %}union all{% endif %}
{% endfor %}
