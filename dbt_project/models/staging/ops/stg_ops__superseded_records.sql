-- The records each superseded load carried, keyed as staging and the marts key them. When a corrected
-- file supersedes a load, its records may fall back to an earlier version; an incremental mart that
-- had no row for such a record (touchpoints: a contact without a create date has none) finds it here
-- (macros/incremental.sql). Superseded loads are few, so this reads little of each raw table.
{%- set sources = [
    ('crm_contacts', source('crm', 'crm_contacts'), 'trim(contact_id)'),
    ('crm_deals', source('crm', 'crm_deals'), 'trim(deal_id)'),
    ('support_tickets', source('support', 'support_tickets'), 'trim(ticket_id)'),
    ('survey_responses', source('survey', 'survey_responses'), 'trim(response_id)'),
    ('marketing_email_activity', source('marketing', 'marketing_email_activity'), normalize_email('email')),
    ('marketing_web_sessions', source('marketing', 'marketing_web_sessions'), 'trim(session_id)'),
    ('marketing_audience', source('marketing', 'marketing_audience'), normalize_email('email')),
] %}

with superseded_loads as (

    select
        load_id,
        superseded_by_load_id
    from {{ ref('stg_ops__loads') }}
    where superseded_by_load_id is not null

)
{% for entity, relation, key in sources %}
select distinct
    '{{ entity }}' as source_entity,
    {{ key }} as record_key,
    superseded_loads.load_id,
    superseded_loads.superseded_by_load_id
from {{ relation }} as raw_rows
inner join superseded_loads on raw_rows._load_id = superseded_loads.load_id
{% if not loop.last %}union all{% endif %}
{% endfor %}
