-- Conversion between consecutive journey stages, by awareness month and acquisition channel:
-- of the customers who reached a stage, how many reached the next one, and the median days it took.
-- Stage order: awareness > consideration > purchase > service > loyalty_advocacy.
with stages as (

    select
        journey.*,
        {{ month_start('journey.awareness_at') }} as awareness_month,
        coalesce(customers.acquisition_channel, 'unknown') as acquisition_channel
    from {{ ref('customer_journey_stages') }} as journey
    inner join {{ ref('customer_360') }} as customers
        on journey.customer_id = customers.customer_id

),

steps as (

    {% set order = ['awareness', 'consideration', 'purchase', 'service', 'loyalty'] %}
    {% for i in range(order | length - 1) %}
    select
        awareness_month,
        acquisition_channel,
        {{ i + 1 }} as step_number,
        '{{ order[i] }}' as from_stage,
        '{{ order[i + 1] }}' as to_stage,
        customer_id,
        {{ order[i + 1] }}_at is not null as has_converted,
        case
            when {{ order[i + 1] }}_at is not null
                then {{ dbt.datediff(order[i] ~ '_at', order[i + 1] ~ '_at', 'day') }}
        end as days_to_convert
    from stages
    where {{ order[i] }}_at is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    awareness_month,
    acquisition_channel,
    step_number,
    from_stage,
    case to_stage when 'loyalty' then 'loyalty_advocacy' else to_stage end as to_stage,
    count(*) as customers_at_stage,
    sum(case when has_converted then 1 else 0 end) as customers_converted,
    {{ percent('sum(case when has_converted then 1 else 0 end)', 'count(*)') }} as conversion_rate,
    {{ median('case when has_converted then days_to_convert end') }} as median_days_to_convert
from steps
group by awareness_month, acquisition_channel, step_number, from_stage, to_stage
