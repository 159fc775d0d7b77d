with source as (

    select raw_companies.*
    from {{ source('crm', 'crm_companies') }} as raw_companies
    inner join {{ ref('stg_ops__loads') }} as loads
        on raw_companies._load_id = loads.load_id
    where loads.is_visible

),

renamed as (

    select
        -- ids
        trim(company_id) as company_id,

        -- strings
        nullif(trim(name), '') as company_name,
        lower(nullif(trim(domain), '')) as domain,
        nullif(trim(industry), '') as industry,
        {{ snake_label('lifecycle_stage') }} as lifecycle_stage,

        -- timestamps (UTC)
        created_at,
        updated_at,

        -- lineage
        _load_id,
        _source_file,
        _source_row

    from source

),

deduplicated as (

    {{ latest_version('renamed', ['company_id'],
        ['updated_at desc nulls last', '_load_id desc', '_source_row desc']) }}

)

select
    company_id,
    company_name,
    domain,
    industry,
    lifecycle_stage,
    created_at,
    updated_at,
    _load_id,
    _source_file,
    _source_row
from deduplicated
