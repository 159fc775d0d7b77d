-- Every source record that can identify a person, with the identifiers it carries: email, phone,
-- CRM person ids (its own, or another system's reference to one), the help-desk requester id, and
-- references to other records (a review naming an order, a survey naming a ticket), through which
-- a record reaches its customer. One row per record; anonymous web sessions are left out.
with contacts as (

    select
        'crm' as source_system,
        'crm_contacts' as source_entity,
        contact_id as record_key,
        email,
        phone,
        contact_id as crm_contact_id,
        cast(null as {{ dbt.type_string() }}) as helpdesk_user_id,
        secondary_id as crm_secondary_id,
        cast(null as {{ dbt.type_string() }}) as order_ref,
        cast(null as {{ dbt.type_string() }}) as ticket_ref,
        created_at as record_at
    from {{ ref('stg_crm__contacts') }}

),

deals as (

    select
        'crm' as source_system,
        'crm_deals' as source_entity,
        deal_id as record_key,
        cast(null as {{ dbt.type_string() }}) as email,
        cast(null as {{ dbt.type_string() }}) as phone,
        contact_id as crm_contact_id,
        cast(null as {{ dbt.type_string() }}) as helpdesk_user_id,
        cast(null as {{ dbt.type_string() }}) as crm_secondary_id,
        deal_id as order_ref,
        cast(null as {{ dbt.type_string() }}) as ticket_ref,
        created_at as record_at
    from {{ ref('stg_crm__deals') }}

),

tickets as (

    select
        'support' as source_system,
        'support_tickets' as source_entity,
        ticket_id as record_key,
        requester_email as email,
        requester_phone as phone,
        requester_crm_contact_id as crm_contact_id,
        requester_id as helpdesk_user_id,
        cast(null as {{ dbt.type_string() }}) as crm_secondary_id,
        cast(null as {{ dbt.type_string() }}) as order_ref,
        ticket_id as ticket_ref,
        created_at as record_at
    from {{ ref('stg_support__tickets') }}

),

survey_responses as (

    select
        'survey' as source_system,
        'survey_responses' as source_entity,
        response_id as record_key,
        respondent_email as email,
        cast(null as {{ dbt.type_string() }}) as phone,
        respondent_crm_contact_id as crm_contact_id,
        cast(null as {{ dbt.type_string() }}) as helpdesk_user_id,
        cast(null as {{ dbt.type_string() }}) as crm_secondary_id,
        order_id as order_ref,
        ticket_id as ticket_ref,
        recorded_at as record_at
    from {{ ref('stg_survey__responses') }}

),

web_sessions as (

    select
        'marketing' as source_system,
        'marketing_web_sessions' as source_entity,
        session_id as record_key,
        user_email as email,
        cast(null as {{ dbt.type_string() }}) as phone,
        user_crm_contact_id as crm_contact_id,
        cast(null as {{ dbt.type_string() }}) as helpdesk_user_id,
        cast(null as {{ dbt.type_string() }}) as crm_secondary_id,
        cast(null as {{ dbt.type_string() }}) as order_ref,
        cast(null as {{ dbt.type_string() }}) as ticket_ref,
        started_at as record_at
    from {{ ref('stg_marketing__web_sessions') }}
    where user_email is not null or user_crm_contact_id is not null

),

-- Email activity identifies people only through the address, so one record per recipient address.
email_recipients as (

    select
        'marketing' as source_system,
        'marketing_email_activity' as source_entity,
        email as record_key,
        email,
        cast(null as {{ dbt.type_string() }}) as phone,
        cast(null as {{ dbt.type_string() }}) as crm_contact_id,
        cast(null as {{ dbt.type_string() }}) as helpdesk_user_id,
        cast(null as {{ dbt.type_string() }}) as crm_secondary_id,
        cast(null as {{ dbt.type_string() }}) as order_ref,
        cast(null as {{ dbt.type_string() }}) as ticket_ref,
        min(occurred_at) as record_at
    from {{ ref('stg_marketing__email_activities') }}
    where email is not null
    group by email

),

audience_members as (

    select
        'marketing' as source_system,
        'marketing_audience' as source_entity,
        email as record_key,
        email,
        phone,
        cast(null as {{ dbt.type_string() }}) as crm_contact_id,
        cast(null as {{ dbt.type_string() }}) as helpdesk_user_id,
        cast(null as {{ dbt.type_string() }}) as crm_secondary_id,
        cast(null as {{ dbt.type_string() }}) as order_ref,
        cast(null as {{ dbt.type_string() }}) as ticket_ref,
        coalesce(subscribed_at, updated_at) as record_at
    from {{ ref('stg_marketing__audience_members') }}

),

-- Orders and tickets that some other record names (a review of an order, a survey about a
-- ticket). Only these need their own reference identifier; without one, a deal is identified by its
-- contact alone, which lets the many records of one person share one identity signature.
referenced_orders as (

    select distinct order_id as order_ref
    from {{ ref('stg_survey__responses') }}
    where order_id is not null

),

referenced_tickets as (

    select distinct ticket_id as ticket_ref
    from {{ ref('stg_survey__responses') }}
    where ticket_id is not null

),

unioned as (

    select * from contacts
    union all
    select * from deals
    union all
    select * from tickets
    union all
    select * from survey_responses
    union all
    select * from web_sessions
    union all
    select * from email_recipients
    union all
    select * from audience_members

),

pruned as (

    select
        unioned.source_system,
        unioned.source_entity,
        unioned.record_key,
        unioned.email,
        unioned.phone,
        unioned.crm_contact_id,
        unioned.helpdesk_user_id,
        unioned.crm_secondary_id,
        case
            when unioned.source_entity <> 'crm_deals' or referenced_orders.order_ref is not null
                then unioned.order_ref
        end as order_ref,
        case
            when unioned.source_entity <> 'support_tickets' or referenced_tickets.ticket_ref is not null
                then unioned.ticket_ref
        end as ticket_ref,
        unioned.record_at
    from unioned
    left join referenced_orders
        on unioned.source_entity = 'crm_deals' and unioned.order_ref = referenced_orders.order_ref
    left join referenced_tickets
        on unioned.source_entity = 'support_tickets' and unioned.ticket_ref = referenced_tickets.ticket_ref

)

select
    source_entity || ':' || record_key as record_id,
    source_system,
    source_entity,
    record_key,
    email,
    phone,
    crm_contact_id,
    helpdesk_user_id,
    crm_secondary_id,
    order_ref,
    ticket_ref,
    -- Records carrying the same identifiers are the same person: identity is worked out once per
    -- signature (a few million at most), not once per record (tens of millions of sessions and actions).
    -- A number on DuckDB (macros/surrogate_key.sql, numeric_key): cheaper to store and to join on.
    {{ numeric_key(['email', 'phone', 'crm_contact_id', 'helpdesk_user_id', 'crm_secondary_id', 'order_ref',
                    'ticket_ref']) }} as identity_signature,
    record_at
from pruned
where coalesce(email, phone, crm_contact_id, helpdesk_user_id, crm_secondary_id, order_ref, ticket_ref) is not null
