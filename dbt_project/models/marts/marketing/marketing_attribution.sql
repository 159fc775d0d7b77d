-- One row per attribution model (first_touch, last_touch), channel and campaign: the new customers
-- (customers with a first order) whose first / last marketing touch at or before their first order
-- came through that channel and campaign, their revenue, and the campaign's ad spend. Customers
-- with no such touch are "direct" / "(none)"; each customer counts once per model.
-- Definitions: DECISIONS.md, "Marketing attribution".
with customers as (

    select customer_id, first_order_at, revenue
    from {{ ref('customer_360') }}
    where orders > 0

),

first_orders as (

    select customer_id, amount as first_order_revenue
    from {{ ref('orders') }}
    where
        customer_id is not null
        and customer_order_number = 1

),

-- Ad clicks, email clicks and web sessions that carry a campaign, up to the first order.
marketing_touches as (

    select
        touchpoints.customer_id,
        touchpoints.touchpoint_id,
        touchpoints.occurred_at,
        touchpoints.channel,
        coalesce(touchpoints.campaign, '(not set)') as campaign
    from {{ ref('touchpoints') }} as touchpoints
    inner join customers
        on touchpoints.customer_id = customers.customer_id
    where
        touchpoints.channel in ('paid_ads', 'web', 'email')
        and (
            touchpoints.touchpoint_type in ('ad_click', 'email_click')
            or (touchpoints.touchpoint_type = 'web_session' and touchpoints.campaign is not null)
        )
        and touchpoints.occurred_at <= customers.first_order_at

),

-- Ties on the timestamp are broken by touchpoint_id so that reruns pick the same touch.
ranked_touches as (

    select
        customer_id,
        channel,
        campaign,
        row_number() over (
            partition by customer_id order by occurred_at asc, touchpoint_id asc
        ) as rank_from_first,
        row_number() over (
            partition by customer_id order by occurred_at desc, touchpoint_id desc
        ) as rank_from_last
    from marketing_touches

),

attributed as (

    {% for attribution_model, rank_column in [('first_touch', 'rank_from_first'), ('last_touch', 'rank_from_last')] %}
    select
        '{{ attribution_model }}' as attribution_model,
        coalesce(touches.channel, 'direct') as channel,
        coalesce(touches.campaign, '(none)') as campaign,
        customers.customer_id,
        customers.revenue,
        first_orders.first_order_revenue
    from customers
    left join ranked_touches as touches
        on
            customers.customer_id = touches.customer_id
            and touches.{{ rank_column }} = 1
    left join first_orders
        on customers.customer_id = first_orders.customer_id
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

attribution_models as (

    select 'first_touch' as attribution_model
    union all
    select 'last_touch' as attribution_model

),

campaign_spend as (

    select
        campaign_name as campaign,
        sum(cost) as ad_spend
    from {{ ref('stg_marketing__ad_spend') }}
    where campaign_name is not null
    group by campaign_name

),

counted as (

    select
        attribution_model,
        channel,
        campaign,
        count(*) as new_customers,
        sum(revenue) as attributed_revenue,
        sum(first_order_revenue) as first_order_revenue
    from attributed
    group by attribution_model, channel, campaign

),

-- Campaigns with spend but no new customer under a model still show their spend, under paid_ads.
unattributed_spend as (

    select
        models.attribution_model,
        'paid_ads' as channel,
        campaign_spend.campaign,
        0 as new_customers,
        cast(0 as {{ dbt.type_numeric() }}) as attributed_revenue,
        cast(0 as {{ dbt.type_numeric() }}) as first_order_revenue
    from campaign_spend
    cross join attribution_models as models
    left join counted
        on
            models.attribution_model = counted.attribution_model
            and campaign_spend.campaign = counted.campaign
    where counted.campaign is null

),

combined as (

    select * from counted
    union all
    select * from unattributed_spend

),

-- Spend belongs to a campaign, not to a channel: the cost per customer divides it by all the
-- campaign's new customers, whichever channel their touch came through.
campaign_totals as (

    select
        attribution_model,
        campaign,
        sum(new_customers) as campaign_new_customers
    from combined
    group by attribution_model, campaign

)

select
    combined.attribution_model,
    combined.channel,
    combined.campaign,
    combined.new_customers,
    combined.attributed_revenue,
    combined.first_order_revenue,
    campaign_totals.campaign_new_customers,
    campaign_spend.ad_spend,
    case
        when campaign_totals.campaign_new_customers > 0
            then campaign_spend.ad_spend / campaign_totals.campaign_new_customers
    end as cost_per_acquired_customer
from combined
inner join campaign_totals
    on
        combined.attribution_model = campaign_totals.attribution_model
        and combined.campaign = campaign_totals.campaign
left join campaign_spend
    on combined.campaign = campaign_spend.campaign
