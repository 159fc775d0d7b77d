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
    record_at
from unioned
where coalesce(email, phone, crm_contact_id, helpdesk_user_id, crm_secondary_id, order_ref, ticket_ref) is not null
