-- One row per customer: who they are, how they came, what they bought, how they were served,
-- what they told us, and where they are in their journey.
-- identity is read twice (identifiers, first_session): inlined, so that it is not stored (macro's note).
with identity as {{ inlined_cte() }} (

    select * from {{ ref('int_identity_records_resolved') }}
    where customer_id is not null

),

identifiers as (

    select
        customer_id,
        count(*) as source_records,
        count(distinct email) as email_addresses,
        max(case when source_system = 'crm' then 1 else 0 end) = 1 as is_in_crm,
        max(case when source_system = 'support' then 1 else 0 end) = 1 as is_in_support,
        max(case when source_system = 'marketing' then 1 else 0 end) = 1 as is_in_marketing,
        max(case when source_system = 'survey' then 1 else 0 end) = 1 as is_in_survey,
        max(email) as any_email,
        max(phone) as any_phone
    from identity
    group by customer_id

),

primary_contact as (

    select
        contacts.*,
        coalesce(companies.company_name, contacts.company_name) as account_name
    from {{ ref('int_customer_contacts_ranked') }} as contacts
    left join {{ ref('stg_crm__companies') }} as companies
        on contacts.account_id = companies.company_id
    where contacts.contact_rank = 1

),

activity as (

    select
        customer_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        max(case when channel = 'email' then occurred_at end) as last_email_at,
        max(case when channel in ('web', 'paid_ads') then occurred_at end) as last_web_at,
        max(case when channel = 'support' then occurred_at end) as last_support_at,
        max(case when channel = 'survey' then occurred_at end) as last_survey_at,
        max(case when touchpoint_type = 'purchase' then occurred_at end) as last_purchase_at
    from {{ ref('touchpoints') }}
    where customer_id is not null
    group by customer_id

),

-- First touch for people the CRM does not know: their first tagged web session.
first_session as (

    select customer_id, utm_source, utm_medium, utm_campaign
    from (
        select
            identity.customer_id,
            sessions.utm_source,
            sessions.utm_medium,
            sessions.utm_campaign,
            row_number() over (
                partition by identity.customer_id order by sessions.started_at, sessions.session_id
            ) as session_number
        from {{ ref('stg_marketing__web_sessions') }} as sessions
        inner join identity
            on
                identity.source_entity = 'marketing_web_sessions'
                and sessions.session_id = identity.record_key
    ) as numbered
    where session_number = 1

),

order_totals as (

    select
        customer_id,
        count(*) as orders,
        sum(amount) as revenue,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at
    from {{ ref('orders') }}
    where customer_id is not null
    group by customer_id

),

ticket_totals as (

    select
        customer_id,
        count(*) as tickets_total,
        sum(case when not is_solved then 1 else 0 end) as tickets_open,
        max(created_at) as last_ticket_at
    from {{ ref('support_tickets') }}
    where customer_id is not null
    group by customer_id

),

latest_scores as (

    {% for score in ['nps', 'csat', 'ces'] %}
    select customer_id, '{{ score }}' as score_type, {{ score }}_score as score
    from (
        select
            customer_id,
            {{ score }}_score,
            row_number() over (partition by customer_id order by recorded_at desc, response_id desc) as answer_rank
        from {{ ref('survey_responses') }}
        where customer_id is not null and {{ score }}_score is not null
    ) as answers_{{ score }}
    where answer_rank = 1
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

scores as (

    select
        customer_id,
        max(case when score_type = 'nps' then score end) as latest_nps_score,
        max(case when score_type = 'csat' then score end) as latest_csat_score,
        max(case when score_type = 'ces' then score end) as latest_ces_score
    from latest_scores
    group by customer_id

),

joined as (

    select
        identifiers.customer_id,
        primary_contact.contact_id as crm_contact_id,
        coalesce(primary_contact.email, identifiers.any_email) as email,
        coalesce(primary_contact.phone, identifiers.any_phone) as phone,
        primary_contact.first_name,
        primary_contact.last_name,
        primary_contact.account_name as company_name,
        primary_contact.contract_type,
        identifiers.email_addresses,
        identifiers.source_records,
        -- The four flags below cover every source_system of the identity records: their sum is the
        -- distinct count, without a second distinct aggregate over 9.3M records at 1M.
        (
            case when identifiers.is_in_crm then 1 else 0 end
            + case when identifiers.is_in_support then 1 else 0 end
            + case when identifiers.is_in_marketing then 1 else 0 end
            + case when identifiers.is_in_survey then 1 else 0 end
        ) as source_systems,
        identifiers.is_in_crm,
        identifiers.is_in_support,
        identifiers.is_in_marketing,
        identifiers.is_in_survey,
        activity.first_seen_at,
        activity.last_seen_at,
        coalesce(
            primary_contact.acquisition_channel,
            case
                when first_session.utm_medium in ('cpc', 'ppc', 'paid_search') then 'paid_search'
                when first_session.utm_medium = 'paid_social' then 'paid_social'
                when first_session.utm_medium = 'email' then 'email_marketing'
                when first_session.utm_medium = 'organic' then 'organic_search'
                when first_session.utm_medium = 'referral' then 'referrals'
                when first_session.customer_id is not null then 'direct_traffic'
            end,
            'unknown'
        ) as acquisition_channel,
        coalesce(primary_contact.acquisition_campaign, first_session.utm_campaign) as acquisition_campaign,
        coalesce(primary_contact.lifecycle_stage, 'unknown') as lifecycle_stage,
        coalesce(order_totals.orders, 0) as orders,
        coalesce(order_totals.revenue, 0) as revenue,
        order_totals.first_order_at,
        order_totals.last_order_at,
        coalesce(ticket_totals.tickets_total, 0) as tickets_total,
        coalesce(ticket_totals.tickets_open, 0) as tickets_open,
        ticket_totals.last_ticket_at,
        scores.latest_nps_score,
        scores.latest_csat_score,
        scores.latest_ces_score,
        journey.current_stage as journey_stage,
        journey.current_stage_entered_at as journey_stage_entered_at,
        coalesce(primary_contact.is_churned, false) as is_churned,
        primary_contact.cancelled_at as churned_at,
        -- A paying customer: bought something, or the CRM says so (stage, or an explicit churn flag).
        (
            coalesce(order_totals.orders, 0) > 0
            or primary_contact.lifecycle_stage in ('customer', 'evangelist')
            or coalesce(primary_contact.has_churn_flag, false)
        ) as is_paying_customer,
        activity.last_email_at,
        activity.last_web_at,
        activity.last_support_at,
        activity.last_survey_at,
        activity.last_purchase_at
    from identifiers
    left join primary_contact on identifiers.customer_id = primary_contact.customer_id
    left join activity on identifiers.customer_id = activity.customer_id
    left join first_session on identifiers.customer_id = first_session.customer_id
    left join order_totals on identifiers.customer_id = order_totals.customer_id
    left join ticket_totals on identifiers.customer_id = ticket_totals.customer_id
    left join scores on identifiers.customer_id = scores.customer_id
    left join {{ ref('customer_journey_stages') }} as journey on identifiers.customer_id = journey.customer_id

)

select
    *,
    -- Lifetime value to date: everything the customer has paid us so far.
    revenue as lifetime_value,
    case when orders > 0 then revenue / orders end as average_order_value,
    case
        when latest_nps_score >= 9 then 'promoter'
        when latest_nps_score >= 7 then 'passive'
        when latest_nps_score >= 0 then 'detractor'
    end as latest_nps_category,
    {{ month_start('coalesce(first_order_at, first_seen_at)') }} as cohort_month,
    case
        when is_churned then 'churned'
        when revenue >= {{ var('segment_high_value_ltv') }} then 'high_value'
        when orders >= 2 then 'repeat_customer'
        when orders = 1 then 'new_customer'
        else 'prospect'
    end as segment
from joined
