-- When each customer entered each journey stage, their current stage and how long they have been
-- in it. The rules are in DECISIONS.md ("Journey stages") and tunable with the journey_* vars.
with identity as (

    select source_entity, record_key, customer_id
    from {{ ref('int_identity_records_resolved') }}
    where customer_id is not null

),

awareness as (

    select customer_id, min(occurred_at) as awareness_at
    from {{ ref('touchpoints') }}
    where customer_id is not null
    group by customer_id

),

engaged_sessions as (

    select
        identity.customer_id,
        sessions.started_at,
        row_number() over (partition by identity.customer_id order by sessions.started_at) as session_number
    from {{ ref('stg_marketing__web_sessions') }} as sessions
    inner join identity
        on
            identity.source_entity = 'marketing_web_sessions'
            and sessions.session_id = identity.record_key
    where sessions.is_engaged

),

consideration_signals as (

    select customer_id, started_at as signal_at
    from engaged_sessions
    where session_number = {{ var('journey_consideration_min_sessions') }}

    union all

    select customer_id, occurred_at as signal_at
    from {{ ref('touchpoints') }}
    where
        customer_id is not null
        and touchpoint_type in ('email_click', 'deal_created')

    union all

    -- A contact created as a lead (or further along) was already considering us.
    select customer_id, created_at as signal_at
    from {{ ref('int_customer_contacts_ranked') }}
    where lifecycle_stage in (
        'lead', 'marketing_qualified_lead', 'sales_qualified_lead', 'opportunity',
        'customer', 'evangelist'
    )

),

consideration as (

    select customer_id, min(signal_at) as consideration_at
    from consideration_signals
    group by customer_id

),

purchase as (

    select
        customer_id,
        min(ordered_at) as purchase_at,
        min(case when customer_order_number = {{ var('journey_loyalty_min_orders') }} then ordered_at end)
            as repeat_purchase_at
    from {{ ref('orders') }}
    where customer_id is not null
    group by customer_id

),

service as (

    select
        customer_id,
        min(created_at) as service_at,
        -- The current service episode: open tickets, or tickets raised within the service window.
        min(case
            when
                not is_solved
                or {{ dbt.datediff('created_at', as_of_timestamp(), 'day') }}
                <= {{ var('journey_service_window_days') }}
                then created_at
        end) as active_service_since
    from {{ ref('support_tickets') }}
    where customer_id is not null
    group by customer_id

),

promoters as (

    select customer_id, min(recorded_at) as first_promoter_at
    from {{ ref('survey_responses') }}
    where
        customer_id is not null
        and nps_score >= {{ var('journey_loyalty_min_nps') }}
    group by customer_id

),

churn as (

    -- Exports with only a churn flag (no date) still make the customer churned, with no date.
    select customer_id, cancelled_at as churned_at, is_churned
    from {{ ref('int_customer_contacts_ranked') }}
    where contact_rank = 1 and is_churned

),

stages as (

    select
        awareness.customer_id,
        awareness.awareness_at,
        consideration.consideration_at,
        purchase.purchase_at,
        service.service_at,
        case
            when purchase.repeat_purchase_at is null then promoters.first_promoter_at
            when promoters.first_promoter_at is null then purchase.repeat_purchase_at
            when purchase.repeat_purchase_at < promoters.first_promoter_at then purchase.repeat_purchase_at
            else promoters.first_promoter_at
        end as loyalty_at,
        churn.churned_at,
        coalesce(churn.is_churned, false) as is_churned,
        service.active_service_since
    from awareness
    left join consideration on awareness.customer_id = consideration.customer_id
    left join purchase on awareness.customer_id = purchase.customer_id
    left join service on awareness.customer_id = service.customer_id
    left join promoters on awareness.customer_id = promoters.customer_id
    left join churn on awareness.customer_id = churn.customer_id

),

current_stage as (

    select
        stages.*,
        case
            when stages.churned_at is not null then 'churned'
            when stages.active_service_since is not null then 'service'
            when stages.loyalty_at is not null then 'loyalty_advocacy'
            when stages.purchase_at is not null then 'purchase'
            when stages.consideration_at is not null then 'consideration'
            else 'awareness'
        end as current_stage
    from stages

)

select
    customer_id,
    awareness_at,
    consideration_at,
    purchase_at,
    service_at,
    loyalty_at,
    churned_at,
    current_stage,
    case current_stage
        when 'churned' then churned_at
        when 'service' then active_service_since
        when 'loyalty_advocacy' then loyalty_at
        when 'purchase' then purchase_at
        when 'consideration' then consideration_at
        else awareness_at
    end as current_stage_entered_at,
    greatest(0, {{ dbt.datediff(
        'case current_stage when \'churned\' then churned_at when \'service\' then active_service_since '
        ~ 'when \'loyalty_advocacy\' then loyalty_at when \'purchase\' then purchase_at '
        ~ 'when \'consideration\' then consideration_at else awareness_at end',
        as_of_timestamp(), 'day') }}) as days_in_current_stage
from current_stage
