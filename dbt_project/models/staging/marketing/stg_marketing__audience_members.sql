-- Mailing-list members; one row per address (the latest export's view of it).
with source as (

    select raw_members.*
    from {{ source('marketing', 'marketing_audience') }} as raw_members
    inner join {{ ref('stg_ops__loads') }} as loads
        on raw_members._load_id = loads.load_id
    where loads.is_visible

),

renamed as (

    select
        -- ids
        nullif(trim(member_id), '') as member_id,

        -- strings
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        lower(nullif(trim(status), '')) as status,

        -- timestamps (UTC)
        subscribed_at,
        unsubscribed_at,
        updated_at,

        -- lineage
        _load_id,
        _source_file,
        _source_row

    from source

),

deduplicated as (

    {{ latest_version('renamed', ['email'],
        ['updated_at desc nulls last', '_load_id desc', '_source_row desc']) }}

)

select
    email,
    member_id,
    phone,
    first_name,
    last_name,
    status,
    subscribed_at,
    unsubscribed_at,
    updated_at,
    _load_id,
    _source_file,
    _source_row
from deduplicated
where email is not null
