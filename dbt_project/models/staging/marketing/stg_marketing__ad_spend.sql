with source as (

    select raw_spend.*
    from {{ source('marketing', 'marketing_ad_spend') }} as raw_spend
    inner join {{ ref('stg_ops__loads') }} as loads
        on raw_spend._load_id = loads.load_id
    where loads.is_visible

),

renamed as (

    select
        -- ids
        trim(campaign_id) as campaign_id,

        -- strings
        {{ snake_label('platform') }} as platform,
        nullif(trim(campaign_name), '') as campaign_name,
        upper(trim(currency)) as currency,

        -- numerics
        coalesce(impressions, 0) as impressions,
        coalesce(clicks, 0) as clicks,
        cast(cost as {{ dbt.type_numeric() }}) as cost,

        -- dates
        spend_date,

        -- lineage
        _load_id,
        _source_file,
        _source_row

    from source

),

deduplicated as (

    {{ latest_version('renamed', ['spend_date', 'platform', 'campaign_id'], ['_load_id desc', '_source_row desc']) }}

)

select
    {{ surrogate_key(['spend_date', 'platform', 'campaign_id']) }} as ad_spend_id,
    spend_date,
    platform,
    campaign_id,
    campaign_name,
    impressions,
    clicks,
    cost,
    currency,
    _load_id,
    _source_file,
    _source_row
from deduplicated
