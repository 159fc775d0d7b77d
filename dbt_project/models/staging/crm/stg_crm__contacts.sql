with source as (

    select raw_contacts.*
    from {{ source('crm', 'crm_contacts') }} as raw_contacts
    inner join {{ ref('stg_ops__loads') }} as loads
        on raw_contacts._load_id = loads.load_id
    where loads.is_visible

),

renamed as (

    select
        -- ids
        contact_id,

        -- strings
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone,
        {{ snake_label('lifecycle_stage') }} as lifecycle_stage,
        {{ snake_label('lead_status') }} as lead_status,
        {{ snake_label('original_source') }} as acquisition_channel,
        nullif(trim(original_source_detail_1), '') as acquisition_source_detail,
        nullif(trim(original_source_detail_2), '') as acquisition_campaign,

        -- timestamps (UTC)
        created_at,
        updated_at,
        became_customer_at,
        cancelled_at,

        -- lineage
        _load_id,
        _source_file,
        _source_row

    from source

),

deduplicated as (

    {{ latest_version('renamed', ['contact_id'],
        ['updated_at desc nulls last', '_load_id desc', '_source_row desc']) }}

)

select
    contact_id,
    first_name,
    last_name,
    email,
    phone,
    lifecycle_stage,
    lead_status,
    acquisition_channel,
    acquisition_source_detail,
    acquisition_campaign,
    created_at,
    updated_at,
    became_customer_at,
    cancelled_at,
    cancelled_at is not null as is_churned,
    _load_id,
    _source_file,
    _source_row
from deduplicated
