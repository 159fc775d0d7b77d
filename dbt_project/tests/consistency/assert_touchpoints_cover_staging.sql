-- Each staging record produced its touchpoints: counts per source entity agree.
{{ config(meta={'dagster': {'ref': {'name': 'touchpoints'}}}) }}
with expected as (
    select
        'crm_contacts' as source_entity,
        count(created_at) as n
    from {{ ref('stg_crm__contacts') }}
    union all
    select
        'crm_deals' as source_entity,
        count(created_at) + sum(case when is_won and coalesce(closed_at, created_at) is not null then 1 else 0 end) as n
    from {{ ref('stg_crm__deals') }}
    union all
    select
        'support_tickets' as source_entity,
        count(*) + sum(case when is_solved and solved_at is not null then 1 else 0 end) as n
    from {{ ref('stg_support__tickets') }}
    union all
    select
        'survey_responses' as source_entity,
        count(*) as n
    from {{ ref('stg_survey__responses') }}
    union all
    select
        'marketing_email_activity' as source_entity,
        count(*) as n
    from {{ ref('stg_marketing__email_activities') }}
    union all
    select
        'marketing_web_sessions' as source_entity,
        count(*) as n
    from {{ ref('stg_marketing__web_sessions') }}
    union all
    select
        'marketing_audience' as source_entity,
        count(*) as n
    from {{ ref('stg_marketing__audience_members') }}
    where subscribed_at is not null
),

actual as (
    select
        source_entity,
        count(*) as n
    from {{ ref('touchpoints') }}
    group by source_entity
)

select
    expected.source_entity,
    expected.n as expected_rows,
    actual.n as actual_rows
from expected
left join actual
    on expected.source_entity = actual.source_entity
where coalesce(actual.n, 0) <> expected.n and not (expected.n = 0 and actual.n is null)
